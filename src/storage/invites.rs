//! The `invites` table: the workspace join code and one-person invites.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::invites;
use super::{DbConn, StorageError, now_utc};

pub const WORKSPACE: &str = "workspace";
pub const PERSON: &str = "person";

/// A fresh code: 24 characters of `[a-z0-9]`, from the operating system's randomness.
pub fn new_code() -> Result<String, StorageError> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|e| StorageError::Internal(format!("no randomness for a code: {e}")))?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}

/// The current workspace join code; made on first use.
pub fn join_code(conn: &mut DbConn) -> Result<String, StorageError> {
    super::write_transaction(conn, |conn| {
        let current: Option<String> = invites::table
            .filter(invites::kind.eq(WORKSPACE))
            .filter(invites::revoked.eq(false))
            .order(invites::created_at.desc())
            .select(invites::code)
            .first(conn)
            .optional()?;
        match current {
            Some(code) => Ok(code),
            None => insert(conn, WORKSPACE, None, None),
        }
    })
}

/// Replaces the workspace join code: the old one stops working at once. Run it inside a
/// write transaction (with its audit entry).
pub fn rotate_join_code(conn: &mut DbConn, by: Option<i64>) -> Result<String, StorageError> {
    diesel::update(invites::table.filter(invites::kind.eq(WORKSPACE)))
        .set(invites::revoked.eq(true))
        .execute(conn)?;
    insert(conn, WORKSPACE, by, None)
}

/// A one-person invite, valid until `expires_at`.
pub fn create_person(
    conn: &mut DbConn,
    by: Option<i64>,
    expires_at: NaiveDateTime,
) -> Result<String, StorageError> {
    insert(conn, PERSON, by, Some(expires_at))
}

fn insert(
    conn: &mut DbConn,
    kind: &str,
    by: Option<i64>,
    expires_at: Option<NaiveDateTime>,
) -> Result<String, StorageError> {
    let code = new_code()?;
    diesel::insert_into(invites::table)
        .values((
            invites::code.eq(&code),
            invites::kind.eq(kind),
            invites::created_by.eq(by),
            invites::created_at.eq(now_utc()),
            invites::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(code)
}

/// Whether `code` lets someone register now (the current join code, or a one-person invite
/// not used and not expired).
pub fn is_valid(conn: &mut DbConn, code: &str) -> Result<bool, StorageError> {
    let found: Option<(String, Option<NaiveDateTime>, Option<i64>, bool)> = invites::table
        .find(code)
        .select((
            invites::kind,
            invites::expires_at,
            invites::used_by,
            invites::revoked,
        ))
        .first(conn)
        .optional()?;
    Ok(match found {
        Some((_, _, _, true)) | None => false,
        Some((kind, _, _, _)) if kind == WORKSPACE => true,
        Some((_, expires, used, _)) => used.is_none() && expires.is_none_or(|e| e > now_utc()),
    })
}

/// Marks a one-person invite used by `user_id` (inside the registration's transaction).
/// Returns false if it was not valid any more (another registration used it first).
pub fn redeem(conn: &mut DbConn, code: &str, user_id: i64) -> Result<bool, StorageError> {
    let kind: Option<String> = invites::table
        .find(code)
        .select(invites::kind)
        .first(conn)
        .optional()?;
    match kind.as_deref() {
        Some(WORKSPACE) => is_valid(conn, code),
        Some(_) => {
            let n = diesel::update(
                invites::table
                    .find(code)
                    .filter(invites::used_by.is_null())
                    .filter(invites::revoked.eq(false))
                    .filter(invites::expires_at.gt(now_utc())),
            )
            .set(invites::used_by.eq(user_id))
            .execute(conn)?;
            Ok(n == 1)
        }
        None => Ok(false),
    }
}
