//! Two-factor state: the TOTP columns of `users` and the `recovery_codes` table (only the
//! SHA-256 of each code is kept).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{recovery_codes, users};
use super::{DbConn, StorageError};

/// Starts (or restarts) enrolment: the secret is kept, not yet required at sign-in.
pub fn set_pending_secret(
    conn: &mut DbConn,
    user_id: i64,
    secret: &str,
) -> Result<usize, StorageError> {
    Ok(diesel::update(
        users::table
            .find(user_id)
            .filter(users::totp_enabled.eq(false)),
    )
    .set((
        users::totp_secret.eq(Some(secret)),
        users::totp_last_step.eq(None::<i64>),
    ))
    .execute(conn)?)
}

/// Records that the code of time step `step` was accepted, unless one of that step or a
/// later one already was: false means the code was used before.
pub fn accept_step(conn: &mut DbConn, user_id: i64, step: i64) -> Result<bool, StorageError> {
    let updated = diesel::update(
        users::table.find(user_id).filter(
            users::totp_last_step
                .is_null()
                .or(users::totp_last_step.lt(step)),
        ),
    )
    .set(users::totp_last_step.eq(Some(step)))
    .execute(conn)?;
    Ok(updated > 0)
}

/// Turns two-factor on with these recovery codes (replacing any earlier ones).
pub fn enable(conn: &mut DbConn, user_id: i64, code_hashes: &[String]) -> Result<(), StorageError> {
    super::write_transaction(conn, |conn| {
        diesel::update(users::table.find(user_id))
            .set(users::totp_enabled.eq(true))
            .execute(conn)?;
        diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
            .execute(conn)?;
        // One statement a code: batch inserts are not available on both backends at once.
        for hash in code_hashes {
            diesel::insert_into(recovery_codes::table)
                .values((
                    recovery_codes::user_id.eq(user_id),
                    recovery_codes::code_hash.eq(hash.as_str()),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Turns two-factor off and forgets the secret and the recovery codes. Run it inside a
/// write transaction.
pub fn disable(conn: &mut DbConn, user_id: i64) -> Result<(), StorageError> {
    diesel::update(users::table.find(user_id))
        .set((
            users::totp_enabled.eq(false),
            users::totp_secret.eq(None::<String>),
            users::totp_last_step.eq(None::<i64>),
        ))
        .execute(conn)?;
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    Ok(())
}

/// Uses up a recovery code; false when it is not one of the user's unused codes.
pub fn use_recovery_code(
    conn: &mut DbConn,
    user_id: i64,
    code_hash: &str,
    now: NaiveDateTime,
) -> Result<bool, StorageError> {
    let used = diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::code_hash.eq(code_hash))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(used > 0)
}
