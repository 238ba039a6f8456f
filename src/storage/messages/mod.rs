//! The `messages` table: gapless per-room seqs, idempotent saves, history by seq.

mod save;

use save::insert_row;
pub use save::{save_batch, save_each};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::conn::write_transaction;
use super::schema::{messages, users};
use super::{DbConn, StorageError, rooms};
use crate::domain::{ClientId, Message, MessageContent};

/// A message to store. The sender comes from a verified token, never from the client.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub room_id: i64,
    pub sender_id: i64,
    pub content: MessageContent,
    /// None only for imported messages (demo data); every write from a client has one.
    pub client_id: Option<ClientId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = messages)]
pub struct StoredMessage {
    pub id: i64,
    pub room_id: i64,
    pub seq: i64,
    pub sender_id: i64,
    pub content: String,
    pub client_id: Option<String>,
    pub created_at: NaiveDateTime,
}

/// What became of one message of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// Stored now, with a fresh seq.
    New(StoredMessage),
    /// The sender had already stored this client id: nothing new was written.
    Existing(StoredMessage),
}

impl Saved {
    pub fn message(&self) -> &StoredMessage {
        match self {
            Saved::New(m) | Saved::Existing(m) => m,
        }
    }
}

pub fn find_by_client_id(
    conn: &mut DbConn,
    sender_id: i64,
    client_id: &str,
) -> Result<Option<StoredMessage>, StorageError> {
    Ok(messages::table
        .filter(messages::sender_id.eq(sender_id))
        .filter(messages::client_id.eq(client_id))
        .select(StoredMessage::as_select())
        .first(conn)
        .optional()?)
}

/// Where a page of history starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// The newest messages.
    Latest,
    /// The newest messages with a seq below this one.
    Before(i64),
    /// The oldest messages with a seq above this one.
    After(i64),
}

/// A page of a room's history, in ascending seq order.
pub fn history(
    conn: &mut DbConn,
    room_id: i64,
    room_name: &str,
    cursor: Cursor,
    limit: i64,
) -> Result<Vec<Message>, StorageError> {
    let base = messages::table
        .inner_join(users::table)
        .filter(messages::room_id.eq(room_id))
        .select((
            messages::id,
            messages::seq,
            users::username,
            messages::content,
            messages::client_id,
            messages::created_at,
            messages::deleted_at,
        ))
        .limit(limit);
    type Row = (
        i64,
        i64,
        String,
        String,
        Option<String>,
        NaiveDateTime,
        Option<NaiveDateTime>,
    );
    let mut rows: Vec<Row> = match cursor {
        Cursor::Latest => base.order(messages::seq.desc()).load(conn)?,
        Cursor::Before(seq) => base
            .filter(messages::seq.lt(seq))
            .order(messages::seq.desc())
            .load(conn)?,
        Cursor::After(seq) => base
            .filter(messages::seq.gt(seq))
            .order(messages::seq.asc())
            .load(conn)?,
    };
    if !matches!(cursor, Cursor::After(_)) {
        rows.reverse();
    }
    Ok(rows
        .into_iter()
        .map(
            |(id, seq, sender, content, client_id, at, deleted_at)| Message {
                id,
                room: room_name.to_owned(),
                seq,
                sender,
                content,
                timestamp: at.and_utc(),
                client_id,
                deleted: deleted_at.is_some(),
            },
        )
        .collect())
}

/// Fills an empty room with messages that carry their own times (demo data, imports).
/// Returns how many were stored: none if the room already had messages, so running it
/// again changes nothing.
pub fn import_into_empty_room(
    conn: &mut DbConn,
    room_id: i64,
    batch: &[(NewMessage, NaiveDateTime)],
) -> Result<usize, StorageError> {
    write_transaction(conn, |conn| {
        let room = rooms::find_by_id(conn, room_id)?
            .ok_or_else(|| StorageError::Internal(format!("room {room_id} vanished")))?;
        if room.last_seq != 0 || batch.is_empty() {
            return Ok(0);
        }
        let first_seq = rooms::reserve_seqs(conn, room_id, batch.len() as i64)?;
        for (offset, (msg, at)) in batch.iter().enumerate() {
            insert_row(conn, msg, first_seq + offset as i64, *at)?;
        }
        Ok(batch.len())
    })
}

pub fn count_in_room(conn: &mut DbConn, room_id: i64) -> Result<i64, StorageError> {
    Ok(messages::table
        .filter(messages::room_id.eq(room_id))
        .count()
        .get_result(conn)?)
}
