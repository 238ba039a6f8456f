//! The `room_events` table: room events other than messages (memberships so far), numbered
//! from the room's one seq counter in the same transaction as the change they record.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{memberships, room_events, users};
use super::{DbConn, StorageError, now_utc, rooms, write_transaction};
use crate::domain::{EventKind, MembershipChange, RoomEvent};

/// A membership change to make and record.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub room_id: i64,
    pub room_name: &'a str,
    /// Whose membership.
    pub subject_id: i64,
    /// Who makes the change.
    pub actor_id: i64,
    pub added: bool,
}

/// Adds or removes a membership and records it as the room's next event, in one write
/// transaction. `None`: nothing to change (already a member, or not one).
pub fn change_membership(
    conn: &mut DbConn,
    change: Change<'_>,
) -> Result<Option<RoomEvent>, StorageError> {
    write_transaction(conn, |conn| {
        let filter = memberships::table
            .filter(memberships::room_id.eq(change.room_id))
            .filter(memberships::user_id.eq(change.subject_id));
        let changed = if change.added {
            if filter.count().get_result::<i64>(conn)? > 0 {
                0
            } else {
                diesel::insert_into(memberships::table)
                    .values((
                        memberships::room_id.eq(change.room_id),
                        memberships::user_id.eq(change.subject_id),
                        memberships::created_at.eq(now_utc()),
                    ))
                    .execute(conn)?
            }
        } else {
            diesel::delete(filter).execute(conn)?
        };
        if changed == 0 {
            return Ok(None);
        }
        let seq = rooms::reserve_seqs(conn, change.room_id, 1)?;
        let kind = if change.added {
            EventKind::MemberAdded
        } else {
            EventKind::MemberRemoved
        };
        let at = now_utc();
        diesel::insert_into(room_events::table)
            .values((
                room_events::room_id.eq(change.room_id),
                room_events::seq.eq(seq),
                room_events::kind.eq(kind.as_str()),
                room_events::actor_id.eq(Some(change.actor_id)),
                room_events::subject_id.eq(Some(change.subject_id)),
                room_events::created_at.eq(at),
            ))
            .execute(conn)?;
        let user: Option<String> = users::table
            .find(change.subject_id)
            .select(users::username)
            .first(conn)
            .optional()?;
        let sender: Option<String> = users::table
            .find(change.actor_id)
            .select(users::username)
            .first(conn)
            .optional()?;
        Ok(Some(event(
            kind,
            MembershipChange {
                room: change.room_name.to_owned(),
                seq,
                user: user.unwrap_or_default(),
                sender,
                timestamp: at.and_utc(),
            },
        )))
    })
}

fn event(kind: EventKind, change: MembershipChange) -> RoomEvent {
    match kind {
        EventKind::MemberRemoved => RoomEvent::MemberRemoved(change),
        _ => RoomEvent::MemberAdded(change),
    }
}

/// The room's non-message events with a seq in `(after, upto]`, oldest first, `limit` at most.
pub fn between(
    conn: &mut DbConn,
    room_id: i64,
    room_name: &str,
    after: i64,
    upto: i64,
    limit: i64,
) -> Result<Vec<RoomEvent>, StorageError> {
    type Row = (i64, String, Option<i64>, Option<i64>, NaiveDateTime);
    let rows: Vec<Row> = room_events::table
        .filter(room_events::room_id.eq(room_id))
        .filter(room_events::seq.gt(after))
        .filter(room_events::seq.le(upto))
        .order(room_events::seq.asc())
        .limit(limit)
        .select((
            room_events::seq,
            room_events::kind,
            room_events::subject_id,
            room_events::actor_id,
            room_events::created_at,
        ))
        .load(conn)?;
    let mut ids: Vec<i64> = rows.iter().flat_map(|r| [r.2, r.3]).flatten().collect();
    ids.sort_unstable();
    ids.dedup();
    let mut names = std::collections::HashMap::new();
    for chunk in ids.chunks(400) {
        names.extend(
            users::table
                .filter(users::id.eq_any(chunk))
                .select((users::id, users::username))
                .load::<(i64, String)>(conn)?,
        );
    }
    let name = |id: Option<i64>| id.and_then(|id| names.get(&id).cloned());
    Ok(rows
        .into_iter()
        .filter_map(|(seq, kind, subject, actor, at)| {
            let kind = EventKind::parse(&kind)?;
            Some(event(
                kind,
                MembershipChange {
                    room: room_name.to_owned(),
                    seq,
                    user: name(subject).unwrap_or_default(),
                    sender: name(actor),
                    timestamp: at.and_utc(),
                },
            ))
        })
        .collect())
}
