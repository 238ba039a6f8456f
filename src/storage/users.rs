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

/// The usernames of those of these ids that have an account.
pub fn usernames(
    conn: &mut DbConn,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, String>, StorageError> {
    let mut found = std::collections::HashMap::with_capacity(ids.len());
    // SQLite caps bound variables per statement.
    for chunk in ids.chunks(400) {
        found.extend(
            users::table
                .filter(users::id.eq_any(chunk))
                .select((users::id, users::username))
                .load::<(i64, String)>(conn)?,
        );
    }
    Ok(found)
}

pub fn count(conn: &mut DbConn) -> Result<i64, StorageError> {
    Ok(users::table.count().get_result(conn)?)
}
