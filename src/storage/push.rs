//! Web Push state: the VAPID key (`vapid_keys`), browsers' subscriptions
//! (`push_subscriptions`) and the notification levels members chose (`notify_levels`).

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{notify_levels, push_subscriptions, users, vapid_keys};
use super::{DbConn, StorageError, now_utc, write_transaction};
use crate::domain::NotifyLevel;

/// The name of the one VAPID key row.
const VAPID: &str = "vapid";

/// Ids per `IN (…)` list: well under SQLite's limit on bound values.
const CHUNK: usize = 500;

/// The stored VAPID key pair: the private scalar and the uncompressed public point, both
/// base64url without padding.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct StoredKey {
    pub private_key: String,
    pub public_key: String,
}

/// The key every process on this database signs with: the one stored, or `make()`'s,
/// stored now. Two processes starting at once both make one; the first insert wins and
/// the other reads it back, so all of them end up with the same key.
pub fn vapid_key(
    conn: &mut DbConn,
    make: impl FnOnce() -> StoredKey,
) -> Result<StoredKey, StorageError> {
    if let Some(found) = find_vapid_key(conn)? {
        return Ok(found);
    }
    let made = make();
    let inserted = diesel::insert_into(vapid_keys::table)
        .values((
            vapid_keys::name.eq(VAPID),
            vapid_keys::private_key.eq(&made.private_key),
            vapid_keys::public_key.eq(&made.public_key),
            vapid_keys::created_at.eq(now_utc()),
        ))
        .execute(conn)
        .map_err(StorageError::from);
    match inserted {
        Ok(_) => Ok(made),
        Err(e) if e.is_unique_violation() => find_vapid_key(conn)?
            .ok_or_else(|| StorageError::Internal("the VAPID key vanished".into())),
        Err(e) => Err(e),
    }
}

fn find_vapid_key(conn: &mut DbConn) -> Result<Option<StoredKey>, StorageError> {
    Ok(vapid_keys::table
        .find(VAPID)
        .select((vapid_keys::private_key, vapid_keys::public_key))
        .first::<StoredKey>(conn)
        .optional()?)
}

/// A browser's subscription as stored: where to push and the keys to encrypt for.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Subscription {
    pub id: i64,
    pub user_id: i64,
    pub endpoint: String,
    /// The browser's P-256 public key, uncompressed, base64url.
    pub p256dh: String,
    /// The 16-byte authentication secret, base64url.
    pub auth: String,
    pub updated_at: NaiveDateTime,
}

/// What `subscribe` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscribed {
    Created,
    /// The endpoint was known (to this user or, before, to another): its keys and owner
    /// are now these.
    Updated,
}

/// Stores a subscription for `user_id`, or updates the one with this endpoint. A user
/// keeps at most `max_per_user`: past that, their least recently subscribed ones go (a
/// browser that reinstalls keeps getting new endpoints; the old ones are dead anyway).
pub fn subscribe(
    conn: &mut DbConn,
    user_id: i64,
    endpoint: &str,
    p256dh: &str,
    auth: &str,
    max_per_user: usize,
) -> Result<Subscribed, StorageError> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match subscribe_once(conn, user_id, endpoint, p256dh, auth, max_per_user) {
            // Another request inserted the same endpoint between our update and insert
            // (PostgreSQL; SQLite's write transaction holds the lock): it is there now,
            // and the next try updates it.
            Err(e) if e.is_unique_violation() && attempts < 3 => continue,
            other => return other,
        }
    }
}

fn subscribe_once(
    conn: &mut DbConn,
    user_id: i64,
    endpoint: &str,
    p256dh: &str,
    auth: &str,
    max_per_user: usize,
) -> Result<Subscribed, StorageError> {
    let now = now_utc();
    write_transaction(conn, |conn| -> Result<Subscribed, StorageError> {
        let updated = diesel::update(
            push_subscriptions::table.filter(push_subscriptions::endpoint.eq(endpoint)),
        )
        .set((
            push_subscriptions::user_id.eq(user_id),
            push_subscriptions::p256dh.eq(p256dh),
            push_subscriptions::auth.eq(auth),
            push_subscriptions::updated_at.eq(now),
        ))
        .execute(conn)?;
        let outcome = if updated > 0 {
            Subscribed::Updated
        } else {
            diesel::insert_into(push_subscriptions::table)
                .values((
                    push_subscriptions::user_id.eq(user_id),
                    push_subscriptions::endpoint.eq(endpoint),
                    push_subscriptions::p256dh.eq(p256dh),
                    push_subscriptions::auth.eq(auth),
                    push_subscriptions::created_at.eq(now),
                    push_subscriptions::updated_at.eq(now),
                ))
                .execute(conn)?;
            Subscribed::Created
        };
        trim(conn, user_id, max_per_user)?;
        Ok(outcome)
    })
}

/// Deletes the user's oldest subscriptions beyond `keep`.
fn trim(conn: &mut DbConn, user_id: i64, keep: usize) -> Result<(), StorageError> {
    let ids: Vec<i64> = push_subscriptions::table
        .filter(push_subscriptions::user_id.eq(user_id))
        .order((
            push_subscriptions::updated_at.desc(),
            push_subscriptions::id.desc(),
        ))
        .select(push_subscriptions::id)
        .load(conn)?;
    if ids.len() > keep {
        diesel::delete(
            push_subscriptions::table.filter(push_subscriptions::id.eq_any(&ids[keep..])),
        )
        .execute(conn)?;
    }
    Ok(())
}

/// Removes the user's subscription with this endpoint; false when they have none such.
pub fn unsubscribe(conn: &mut DbConn, user_id: i64, endpoint: &str) -> Result<bool, StorageError> {
    let n = diesel::delete(
        push_subscriptions::table
            .filter(push_subscriptions::user_id.eq(user_id))
            .filter(push_subscriptions::endpoint.eq(endpoint)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Forgets an endpoint the push service says is gone (404, 410), whoever owns it.
pub fn forget_endpoint(conn: &mut DbConn, endpoint: &str) -> Result<bool, StorageError> {
    let n =
        diesel::delete(push_subscriptions::table.filter(push_subscriptions::endpoint.eq(endpoint)))
            .execute(conn)?;
    Ok(n > 0)
}

/// The subscriptions of these users, of active accounts only (a deactivated or deleted
/// account's browsers hear nothing more).
pub fn subscriptions_of(
    conn: &mut DbConn,
    user_ids: &[i64],
) -> Result<Vec<Subscription>, StorageError> {
    let mut found = Vec::new();
    for chunk in user_ids.chunks(CHUNK) {
        let rows: Vec<Subscription> = push_subscriptions::table
            .inner_join(users::table)
            .filter(push_subscriptions::user_id.eq_any(chunk))
            .filter(users::active.eq(true))
            .order(push_subscriptions::id.asc())
            .select((
                push_subscriptions::id,
                push_subscriptions::user_id,
                push_subscriptions::endpoint,
                push_subscriptions::p256dh,
                push_subscriptions::auth,
                push_subscriptions::updated_at,
            ))
            .load(conn)?;
        found.extend(rows);
    }
    Ok(found)
}

/// Sets the member's level for a room (the caller checks membership).
pub fn set_level(
    conn: &mut DbConn,
    user_id: i64,
    room_id: i64,
    level: NotifyLevel,
) -> Result<(), StorageError> {
    write_transaction(conn, |conn| -> Result<(), StorageError> {
        let updated = diesel::update(
            notify_levels::table
                .filter(notify_levels::user_id.eq(user_id))
                .filter(notify_levels::room_id.eq(room_id)),
        )
        .set(notify_levels::level.eq(level.as_str()))
        .execute(conn)?;
        if updated == 0 {
            diesel::insert_into(notify_levels::table)
                .values((
                    notify_levels::user_id.eq(user_id),
                    notify_levels::room_id.eq(room_id),
                    notify_levels::level.eq(level.as_str()),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// The levels `user_id` chose for these rooms; a room missing from the map has its kind's
/// default (`NotifyLevel::or_default`). For `GET /api/rooms`.
pub fn levels_of(
    conn: &mut DbConn,
    user_id: i64,
    room_ids: &[i64],
) -> Result<HashMap<i64, NotifyLevel>, StorageError> {
    let mut levels = HashMap::new();
    for chunk in room_ids.chunks(CHUNK) {
        let rows: Vec<(i64, String)> = notify_levels::table
            .filter(notify_levels::user_id.eq(user_id))
            .filter(notify_levels::room_id.eq_any(chunk))
            .select((notify_levels::room_id, notify_levels::level))
            .load(conn)?;
        for (room_id, level) in rows {
            levels.insert(room_id, parse_level(&level)?);
        }
    }
    Ok(levels)
}

/// The levels these members chose for one room; a member missing from the map has the
/// room kind's default. For deciding who of a message's readers is pushed.
pub fn room_levels(
    conn: &mut DbConn,
    room_id: i64,
    user_ids: &[i64],
) -> Result<HashMap<i64, NotifyLevel>, StorageError> {
    let mut levels = HashMap::new();
    for chunk in user_ids.chunks(CHUNK) {
        let rows: Vec<(i64, String)> = notify_levels::table
            .filter(notify_levels::room_id.eq(room_id))
            .filter(notify_levels::user_id.eq_any(chunk))
            .select((notify_levels::user_id, notify_levels::level))
            .load(conn)?;
        for (user_id, level) in rows {
            levels.insert(user_id, parse_level(&level)?);
        }
    }
    Ok(levels)
}

fn parse_level(raw: &str) -> Result<NotifyLevel, StorageError> {
    NotifyLevel::parse(raw)
        .map_err(|_| StorageError::Internal(format!("a stored notify level reads {raw:?}")))
}
