//! The events feed: a room's events in seq order, without gaps.
//!
//! Every event kind shares the room's seq counter (`rooms.last_seq`); each kind's rows live
//! in the table that keeps its state (`chat`: `messages`; memberships: `room_events`),
//! merged here by seq.

use super::messages::{self, Cursor};
use super::{DbConn, StorageError, room_events, rooms};
use crate::domain::RoomEvent;

/// A page of the feed and where the room stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    pub events: Vec<RoomEvent>,
    /// The room's latest seq when the page was read.
    pub last_seq: i64,
}

/// The oldest `limit` events with a seq above `after`.
///
/// The room's `last_seq` is read first: a seq is reserved in the same transaction that
/// writes its event, and a room's writers take its row lock in turn, so every event up to
/// that seq is committed and visible to the reads that follow. Events committed after it
/// are left for the next page, which keeps the page gapless.
pub fn after(
    conn: &mut DbConn,
    room_id: i64,
    room_name: &str,
    after: i64,
    limit: i64,
) -> Result<EventPage, StorageError> {
    let last_seq = rooms::find_by_id(conn, room_id)?
        .map(|r| r.last_seq)
        .ok_or(StorageError::Query(diesel::result::Error::NotFound))?;
    if after >= last_seq {
        return Ok(EventPage {
            events: Vec::new(),
            last_seq,
        });
    }
    // Each kind's oldest `limit` after `after`, merged by seq: the page's `limit` oldest.
    let mut events: Vec<RoomEvent> =
        messages::history(conn, room_id, room_name, Cursor::After(after), limit)?
            .into_iter()
            .filter(|m| m.seq <= last_seq)
            .map(RoomEvent::Chat)
            .collect();
    events.extend(room_events::between(
        conn, room_id, room_name, after, last_seq, limit,
    )?);
    events.sort_by_key(RoomEvent::seq);
    events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(EventPage { events, last_seq })
}
