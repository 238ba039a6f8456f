//! The `memberships` table: who belongs to which room.

use diesel::prelude::*;

use super::schema::{memberships, users};
use super::{DbConn, StorageError, now_utc};

/// Adds a member; already one: nothing changes. Returns whether they were added.
pub fn add(conn: &mut DbConn, room_id: i64, user_id: i64) -> Result<bool, StorageError> {
    if is_member(conn, room_id, user_id)? {
        return Ok(false);
    }
    let inserted = diesel::insert_into(memberships::table)
        .values((
            memberships::room_id.eq(room_id),
            memberships::user_id.eq(user_id),
            memberships::created_at.eq(now_utc()),
        ))
        .execute(conn);
    match inserted.map_err(StorageError::from) {
        Ok(n) => Ok(n > 0),
        // A concurrent add won: a member all the same.
        Err(e) if e.is_unique_violation() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes a member. Returns whether they were one.
pub fn remove(conn: &mut DbConn, room_id: i64, user_id: i64) -> Result<bool, StorageError> {
    let n = diesel::delete(
        memberships::table
            .filter(memberships::room_id.eq(room_id))
            .filter(memberships::user_id.eq(user_id)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

pub fn is_member(conn: &mut DbConn, room_id: i64, user_id: i64) -> Result<bool, StorageError> {
    Ok(memberships::table
        .filter(memberships::room_id.eq(room_id))
        .filter(memberships::user_id.eq(user_id))
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

/// A room's members' usernames, sorted.
pub fn usernames(conn: &mut DbConn, room_id: i64) -> Result<Vec<String>, StorageError> {
    Ok(memberships::table
        .inner_join(users::table)
        .filter(memberships::room_id.eq(room_id))
        .order(users::username.asc())
        .select(users::username)
        .load(conn)?)
}
