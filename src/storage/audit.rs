//! The `audit_log` table: what administrators did.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{audit_log, users};
use super::{DbConn, StorageError, now_utc};

/// One admin action, as `GET /api/admin/audit` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    pub id: i64,
    /// The admin's username (null when their account is gone, or for `chatapp admin`).
    pub actor: Option<String>,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

pub fn record(
    conn: &mut DbConn,
    actor_id: Option<i64>,
    action: &str,
    target: &str,
    detail: &str,
) -> Result<(), StorageError> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::actor_id.eq(actor_id),
            audit_log::action.eq(action),
            audit_log::target.eq(target),
            audit_log::detail.eq(detail),
            audit_log::created_at.eq(now_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The newest `limit` entries, newest first.
pub fn newest(conn: &mut DbConn, limit: i64) -> Result<Vec<Entry>, StorageError> {
    type Row = (i64, Option<String>, String, String, String, NaiveDateTime);
    let rows: Vec<Row> = audit_log::table
        .left_join(users::table.on(audit_log::actor_id.eq(users::id.nullable())))
        .order(audit_log::id.desc())
        .limit(limit)
        .select((
            audit_log::id,
            users::username.nullable(),
            audit_log::action,
            audit_log::target,
            audit_log::detail,
            audit_log::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, actor, action, target, detail, at)| Entry {
            id,
            actor,
            action,
            target,
            detail,
            at: at.and_utc(),
        })
        .collect())
}
