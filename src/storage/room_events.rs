//! The `room_events` table: room events other than messages (memberships, deletes),
//! numbered from the room's one seq counter in the same transaction as the change they
//! record.

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
    type Row = (
        i64,
        String,
        Option<i64>,
        Option<i64>,
        NaiveDateTime,
        Option<i64>,
        Option<String>,
    );
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
            room_events::message_id,
            room_events::client_id,
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
        .filter_map(|(seq, kind, subject, actor, at, message_id, client_id)| {
            let kind = EventKind::parse(&kind)?;
            if kind == EventKind::Delete {
                return Some(RoomEvent::Delete(crate::domain::Deletion {
                    room: room_name.to_owned(),
                    seq,
                    id: message_id.unwrap_or_default(),
                    sender: name(actor),
                    timestamp: at.and_utc(),
                    client_id,
                }));
            }
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

/// What became of a delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deleted {
    /// Deleted now, as the room's next event.
    Now(RoomEvent),
    /// This (actor, client id) deleted it before: the original event.
    Before(RoomEvent),
    /// No such message in the room (or it is deleted already).
    NoSuchMessage,
    /// Not the actor's message, and the actor is not an administrator.
    NotAllowed,
}

/// A delete to make and record.
#[derive(Debug, Clone, Copy)]
pub struct Delete<'a> {
    pub room_id: i64,
    pub room_name: &'a str,
    pub message_id: i64,
    pub actor_id: i64,
    pub client_id: &'a str,
}

/// Deletes a message's content (its row and seq stay) and records it as the room's next
/// event, in one write transaction; idempotent per (actor, client id).
pub fn delete_message(conn: &mut DbConn, delete: Delete<'_>) -> Result<Deleted, StorageError> {
    use super::schema::messages;
    write_transaction(conn, |conn| {
        let actor: Option<(String, String)> = users::table
            .find(delete.actor_id)
            .select((users::username, users::role))
            .first(conn)
            .optional()?;
        let Some((actor_name, actor_role)) = actor else {
            return Ok(Deleted::NotAllowed);
        };
        let earlier: Option<(i64, Option<i64>, NaiveDateTime)> = room_events::table
            .filter(room_events::actor_id.eq(delete.actor_id))
            .filter(room_events::client_id.eq(delete.client_id))
            .select((
                room_events::seq,
                room_events::message_id,
                room_events::created_at,
            ))
            .first(conn)
            .optional()?;
        let deletion = |seq: i64, id: i64, at: NaiveDateTime| {
            RoomEvent::Delete(crate::domain::Deletion {
                room: delete.room_name.to_owned(),
                seq,
                id,
                sender: Some(actor_name.clone()),
                timestamp: at.and_utc(),
                client_id: Some(delete.client_id.to_owned()),
            })
        };
        if let Some((seq, id, at)) = earlier {
            return Ok(Deleted::Before(deletion(seq, id.unwrap_or_default(), at)));
        }
        let target: Option<(i64, Option<NaiveDateTime>)> = messages::table
            .filter(messages::id.eq(delete.message_id))
            .filter(messages::room_id.eq(delete.room_id))
            .select((messages::sender_id, messages::deleted_at))
            .first(conn)
            .optional()?;
        let sender_id = match target {
            Some((sender_id, None)) => sender_id,
            _ => return Ok(Deleted::NoSuchMessage),
        };
        if sender_id != delete.actor_id && actor_role != crate::domain::Role::Admin.as_str() {
            return Ok(Deleted::NotAllowed);
        }
        let seq = rooms::reserve_seqs(conn, delete.room_id, 1)?;
        let at = now_utc();
        diesel::update(messages::table.find(delete.message_id))
            .set((messages::content.eq(""), messages::deleted_at.eq(Some(at))))
            .execute(conn)?;
        diesel::insert_into(room_events::table)
            .values((
                room_events::room_id.eq(delete.room_id),
                room_events::seq.eq(seq),
                room_events::kind.eq(EventKind::Delete.as_str()),
                room_events::actor_id.eq(Some(delete.actor_id)),
                room_events::subject_id.eq(Some(sender_id)),
                room_events::message_id.eq(Some(delete.message_id)),
                room_events::client_id.eq(Some(delete.client_id)),
                room_events::created_at.eq(at),
            ))
            .execute(conn)?;
        Ok(Deleted::Now(deletion(seq, delete.message_id, at)))
    })
}
