//! The `rooms` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::rooms;
use super::{DbConn, StorageError};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = rooms)]
pub struct Room {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub last_seq: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = rooms)]
pub struct NewRoom<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

/// Inserts a room; a taken name is a unique violation.
pub fn insert(conn: &mut DbConn, new: &NewRoom<'_>) -> Result<Room, StorageError> {
    let id: i64 = diesel::insert_into(rooms::table)
        .values(new)
        .returning(rooms::id)
        .get_result(conn)?;
    Ok(Room {
        id,
        name: new.name.to_owned(),
        description: new.description.to_owned(),
        created_by: new.created_by,
        created_at: new.created_at,
        last_seq: 0,
    })
}

pub fn list(conn: &mut DbConn) -> Result<Vec<Room>, StorageError> {
    Ok(rooms::table
        .order(rooms::id.asc())
        .select(Room::as_select())
        .load(conn)?)
}

pub fn find_by_id(conn: &mut DbConn, id: i64) -> Result<Option<Room>, StorageError> {
    Ok(rooms::table
        .find(id)
        .select(Room::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_name(conn: &mut DbConn, name: &str) -> Result<Option<Room>, StorageError> {
    Ok(rooms::table
        .filter(rooms::name.eq(name))
        .select(Room::as_select())
        .first(conn)
        .optional()?)
}

/// Reserves `count` consecutive seqs in a room and returns the first. Must run inside a
/// write transaction: the update takes the room's row lock (PostgreSQL) or rides on the
/// database write lock (SQLite), so concurrent writers queue here and seqs never repeat;
/// a rollback returns the seqs, so they never leave a gap either.
pub fn reserve_seqs(conn: &mut DbConn, room_id: i64, count: i64) -> Result<i64, StorageError> {
    let last: i64 = diesel::update(rooms::table.find(room_id))
        .set(rooms::last_seq.eq(rooms::last_seq + count))
        .returning(rooms::last_seq)
        .get_result(conn)?;
    Ok(last - count + 1)
}
