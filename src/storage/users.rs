//! The `users` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{lower, users};
use super::{DbConn, StorageError};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Inserts a user; a taken username (in any letter case) or email is a unique violation.
pub fn insert(conn: &mut DbConn, new: &NewUser<'_>) -> Result<i64, StorageError> {
    Ok(diesel::insert_into(users::table)
        .values(new)
        .returning(users::id)
        .get_result(conn)?)
}

/// Finds a user by name, ignoring letter case.
pub fn find_by_username(conn: &mut DbConn, name: &str) -> Result<Option<User>, StorageError> {
    Ok(users::table
        .filter(lower(users::username).eq(name.to_ascii_lowercase()))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_id(conn: &mut DbConn, id: i64) -> Result<Option<User>, StorageError> {
    Ok(users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

pub fn count(conn: &mut DbConn) -> Result<i64, StorageError> {
    Ok(users::table.count().get_result(conn)?)
}
