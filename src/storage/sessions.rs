//! The `sessions` table: every sign-in, until it ends (sign-out, a password change, a
//! reset, deactivation) or expires. The tokens name a session by its id (`sid`).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::sessions;
use super::{DbConn, StorageError};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: String,
    pub user_id: i64,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub user_agent: String,
    pub client_addr: String,
    pub ended_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub id: &'a str,
    pub user_id: i64,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub user_agent: &'a str,
    pub client_addr: &'a str,
}

/// How stale `last_seen_at` may get before a use of the session writes it again.
const SEEN_GRANULARITY_SECS: i64 = 60;

pub fn insert(conn: &mut DbConn, new: &NewSession<'_>) -> Result<(), StorageError> {
    diesel::insert_into(sessions::table)
        .values(new)
        .execute(conn)?;
    Ok(())
}

/// Whether the session is open: it exists, belongs to the user, has not ended or expired.
pub fn is_open(
    conn: &mut DbConn,
    id: &str,
    user_id: i64,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let found: Option<String> = sessions::table
        .filter(sessions::id.eq(id))
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::ended_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .select(sessions::id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Notes a use of the session (at most once a minute, to keep writes rare).
pub fn touch(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> Result<(), StorageError> {
    let stale = now - chrono::Duration::seconds(SEEN_GRANULARITY_SECS);
    diesel::update(
        sessions::table
            .filter(sessions::id.eq(id))
            .filter(sessions::last_seen_at.lt(stale)),
    )
    .set(sessions::last_seen_at.eq(now))
    .execute(conn)?;
    Ok(())
}

/// The user's open sessions, the most recently seen first.
pub fn list_open(
    conn: &mut DbConn,
    user_id: i64,
    now: NaiveDateTime,
) -> Result<Vec<Session>, StorageError> {
    Ok(sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::ended_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .order((sessions::last_seen_at.desc(), sessions::created_at.desc()))
        .select(Session::as_select())
        .load(conn)?)
}

/// Ends one of the user's open sessions; false when there was none by that id.
pub fn end(
    conn: &mut DbConn,
    user_id: i64,
    id: &str,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    if id.contains('\0') {
        // No session id has one, and PostgreSQL refuses U+0000 in a query's text.
        return Ok(false);
    }
    let ended = diesel::update(
        sessions::table
            .filter(sessions::id.eq(id))
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::ended_at.is_null()),
    )
    .set(sessions::ended_at.eq(Some(now)))
    .execute(conn)?;
    Ok(ended > 0)
}

/// Ends every open session of the user except `keep`; returns the ids it ended.
pub fn end_all(
    conn: &mut DbConn,
    user_id: i64,
    keep: Option<&str>,
    now: NaiveDateTime,
) -> Result<Vec<String>, StorageError> {
    let now = Some(now);
    let open = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::ended_at.is_null());
    let ended = match keep {
        Some(keep) => diesel::update(open.filter(sessions::id.ne(keep)))
            .set(sessions::ended_at.eq(now))
            .returning(sessions::id)
            .get_results(conn)?,
        None => diesel::update(open)
            .set(sessions::ended_at.eq(now))
            .returning(sessions::id)
            .get_results(conn)?,
    };
    Ok(ended)
}
