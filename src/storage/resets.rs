//! The `password_resets` table: one-use links an administrator makes for a user. Only the
//! SHA-256 of a link's token is kept.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::password_resets;
use super::{DbConn, StorageError};

#[derive(Debug, Insertable)]
#[diesel(table_name = password_resets)]
pub struct NewReset<'a> {
    pub token_hash: &'a str,
    pub user_id: i64,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, new: &NewReset<'_>) -> Result<(), StorageError> {
    diesel::insert_into(password_resets::table)
        .values(new)
        .execute(conn)?;
    Ok(())
}

/// Uses up the link with this token hash, if it is unused and unexpired; returns its user.
/// Of two uses racing, one wins.
pub fn redeem(
    conn: &mut DbConn,
    token_hash: &str,
    now: NaiveDateTime,
) -> Result<Option<i64>, StorageError> {
    Ok(diesel::update(
        password_resets::table
            .filter(password_resets::token_hash.eq(token_hash))
            .filter(password_resets::used_at.is_null())
            .filter(password_resets::expires_at.gt(now)),
    )
    .set(password_resets::used_at.eq(Some(now)))
    .returning(password_resets::user_id)
    .get_result(conn)
    .optional()?)
}

/// Whether the link is still usable (the form is shown only for one that is).
pub fn is_usable(
    conn: &mut DbConn,
    token_hash: &str,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let found: Option<i64> = password_resets::table
        .filter(password_resets::token_hash.eq(token_hash))
        .filter(password_resets::used_at.is_null())
        .filter(password_resets::expires_at.gt(now))
        .select(password_resets::user_id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}
