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
    /// `admin`, `member` or `bot` (see `domain::Role`).
    pub role: String,
    /// A deactivated user cannot sign in, and their sessions end.
    pub active: bool,
    pub display_name: Option<String>,
    /// The TOTP secret (base32), from enrolment on.
    pub totp_secret: Option<String>,
    /// Whether sign-in asks for a TOTP code.
    pub totp_enabled: bool,
    /// The last time step whose code was accepted (a code works once).
    pub totp_last_step: Option<i64>,
}

impl User {
    /// The role, read as the domain's type (an unknown one counts as `member`).
    pub fn role(&self) -> crate::domain::Role {
        crate::domain::Role::parse(&self.role).unwrap_or(crate::domain::Role::Member)
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub role: &'a str,
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

/// The usernames of those of these ids that have an active account.
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
                .filter(users::active.eq(true))
                .select((users::id, users::username))
                .load::<(i64, String)>(conn)?,
        );
    }
    Ok(found)
}

pub fn count(conn: &mut DbConn) -> Result<i64, StorageError> {
    Ok(users::table.count().get_result(conn)?)
}

/// Every user, oldest first.
pub fn list(conn: &mut DbConn) -> Result<Vec<User>, StorageError> {
    Ok(users::table
        .order(users::id.asc())
        .select(User::as_select())
        .load(conn)?)
}

/// Makes this user the administrator if theirs is the first account ever (the lowest id):
/// of two registrations racing on a fresh workspace, exactly one is first.
pub fn promote_if_first(conn: &mut DbConn, id: i64) -> Result<bool, StorageError> {
    let first: Option<i64> = users::table
        .select(diesel::dsl::min(users::id))
        .first(conn)?;
    if first != Some(id) {
        return Ok(false);
    }
    set_role(conn, id, crate::domain::Role::Admin)?;
    Ok(true)
}

pub fn set_role(
    conn: &mut DbConn,
    id: i64,
    role: crate::domain::Role,
) -> Result<usize, StorageError> {
    Ok(diesel::update(users::table.find(id))
        .set((
            users::role.eq(role.as_str()),
            users::updated_at.eq(super::now_utc()),
        ))
        .execute(conn)?)
}

pub fn set_active(conn: &mut DbConn, id: i64, active: bool) -> Result<usize, StorageError> {
    Ok(diesel::update(users::table.find(id))
        .set((
            users::active.eq(active),
            users::updated_at.eq(super::now_utc()),
        ))
        .execute(conn)?)
}

pub fn set_password_hash(conn: &mut DbConn, id: i64, hash: &str) -> Result<usize, StorageError> {
    Ok(diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(hash),
            users::updated_at.eq(super::now_utc()),
        ))
        .execute(conn)?)
}

/// Deletes an account but keeps its messages: the row stays, under the name
/// `deleted-<id>` and the display name "Deleted user", with nothing left to sign in with
/// (no email, an unusable password hash, no second factor), inactive.
pub fn anonymize(conn: &mut DbConn, id: i64) -> Result<usize, StorageError> {
    Ok(diesel::update(users::table.find(id))
        .set((
            users::username.eq(format!("{}{id}", crate::domain::Username::DELETED_PREFIX)),
            users::display_name.eq(Some("Deleted user")),
            users::email.eq(None::<String>),
            users::password_hash.eq("!"),
            users::active.eq(false),
            users::totp_secret.eq(None::<String>),
            users::totp_enabled.eq(false),
            users::totp_last_step.eq(None::<i64>),
            users::updated_at.eq(super::now_utc()),
        ))
        .execute(conn)?)
}
