//! The chat service behind `front`'s REST API and internal save route: room look-ups
//! (cached: rooms are never renamed or deleted), history, and saving drafts from `ws`.
//! A sender is checked before their first message is stored: a token can outlive its account
//! (a database replaced, the signing key kept), and such a message must be refused alone
//! rather than fail the batch it shares with others on a foreign key.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use crate::domain::services::{Connector, EventStore, Unavailable};
use crate::domain::{
    Change, Draft, Message, RejectCode, Rejection, RoomEvent, RoomName, SaveOutcome,
};
use crate::storage::events::{self, EventPage};
use crate::storage::messages::{self, Cursor, NewMessage, Saved};
use crate::storage::{Db, StorageError, rooms, users};

#[derive(Clone)]
pub struct ChatService {
    db: Db,
    room_ids: Arc<RwLock<HashMap<String, i64>>>,
    /// Senders found, by id, with their usernames (users are never deleted or renamed).
    senders: Arc<RwLock<HashMap<i64, String>>>,
}

impl ChatService {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            room_ids: Arc::new(RwLock::new(HashMap::new())),
            senders: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    /// The usernames of a batch's senders that have an account: those seen before from
    /// memory, the others with one query (a miss is not remembered: after a database is
    /// replaced, someone may yet register under that id).
    async fn sender_names(&self, drafts: &[Draft]) -> Result<HashMap<i64, String>, StorageError> {
        let ids: BTreeSet<i64> = drafts.iter().map(|d| d.sender_id).collect();
        let mut names = HashMap::with_capacity(ids.len());
        let mut unknown = Vec::new();
        match self.senders.read() {
            Ok(known) => {
                for id in ids {
                    match known.get(&id) {
                        Some(name) => {
                            names.insert(id, name.clone());
                        }
                        None => unknown.push(id),
                    }
                }
            }
            Err(_) => unknown.extend(ids),
        }
        if !unknown.is_empty() {
            let found = self
                .db
                .run(move |conn| users::usernames(conn, &unknown))
                .await?;
            if let Ok(mut known) = self.senders.write() {
                known.extend(found.iter().map(|(id, name)| (*id, name.clone())));
            }
            names.extend(found);
        }
        Ok(names)
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    fn cached(&self, name: &str) -> Option<i64> {
        self.room_ids.read().ok()?.get(name).copied()
    }

    fn remember(&self, name: &str, id: i64) {
        if let Ok(mut map) = self.room_ids.write() {
            map.insert(name.to_owned(), id);
        }
    }

    /// The id of the room with this name, if there is one.
    pub async fn room_id(&self, name: &str) -> Result<Option<i64>, StorageError> {
        if let Some(id) = self.cached(name) {
            return Ok(Some(id));
        }
        let owned = name.to_owned();
        let room = self
            .db
            .run(move |conn| rooms::find_by_name(conn, &owned))
            .await?;
        if let Some(room) = &room {
            self.remember(&room.name, room.id);
        }
        Ok(room.map(|r| r.id))
    }

    pub async fn history(
        &self,
        room_id: i64,
        room: &str,
        cursor: Cursor,
        limit: i64,
    ) -> Result<Vec<Message>, StorageError> {
        let room = room.to_owned();
        self.db
            .run(move |conn| messages::history(conn, room_id, &room, cursor, limit))
            .await
    }

    /// A page of the room's events feed.
    pub async fn events(
        &self,
        room_id: i64,
        room: &str,
        after: i64,
        limit: i64,
    ) -> Result<EventPage, StorageError> {
        let room = room.to_owned();
        self.db
            .run(move |conn| events::after(conn, room_id, &room, after, limit))
            .await
    }

    /// Stores a batch of drafts, each independently of the others' faults; one outcome
    /// per draft, in order. `Err` only when the database cannot be reached.
    pub async fn save(&self, drafts: Vec<Draft>) -> Result<Vec<SaveOutcome>, StorageError> {
        let mut outcomes: Vec<Option<SaveOutcome>> = vec![None; drafts.len()];
        let senders = self.sender_names(&drafts).await?;
        // Per stored draft: its index, room and sender name, for the events it becomes.
        let mut stored: Vec<(usize, RoomName, String)> = Vec::with_capacity(drafts.len());
        let mut batch: Vec<NewMessage> = Vec::with_capacity(drafts.len());
        for (i, draft) in drafts.into_iter().enumerate() {
            match self.prepare(&draft, &senders).await? {
                Ok(room_id) => {
                    let Draft {
                        room,
                        sender_id,
                        sender,
                        client_id,
                        change: Change::Chat { content },
                    } = draft;
                    batch.push(NewMessage {
                        room_id,
                        sender_id,
                        content,
                        client_id: Some(client_id),
                    });
                    stored.push((i, room, sender));
                }
                Err(reason) => outcomes[i] = Some(SaveOutcome::Rejected { reason }),
            }
        }
        if !batch.is_empty() {
            let saved = self
                .db
                .run(move |conn| messages::save_each(conn, &batch))
                .await?;
            for ((i, room, sender), saved) in stored.into_iter().zip(saved) {
                let event = |m: messages::StoredMessage| {
                    RoomEvent::Chat(Message {
                        id: m.id,
                        room: room.into(),
                        seq: m.seq,
                        sender,
                        content: m.content,
                        timestamp: m.created_at.and_utc(),
                        client_id: m.client_id,
                    })
                };
                outcomes[i] = Some(match saved {
                    Ok(Saved::New(m)) => SaveOutcome::Stored { event: event(m) },
                    Ok(Saved::Existing(m)) => SaveOutcome::Duplicate { event: event(m) },
                    Err(e) => {
                        tracing::warn!(error = %e, "the database refused one message");
                        SaveOutcome::Rejected {
                            reason: rejection_for(&e),
                        }
                    }
                });
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| SaveOutcome::Rejected {
                    reason: Rejection::new(RejectCode::NotSaved, "not processed"),
                })
            })
            .collect())
    }

    /// Checks a draft's sender against `senders` (from [`Self::sender_names`]) and finds
    /// its room's id; a refusal is its outcome. Its fields were parsed at the door.
    async fn prepare(
        &self,
        draft: &Draft,
        senders: &HashMap<i64, String>,
    ) -> Result<Result<i64, Rejection>, StorageError> {
        let Some(room_id) = self.room_id(draft.room.as_str()).await? else {
            return Ok(Err(Rejection::new(
                RejectCode::NotFound,
                format!("no room named {:?}", draft.room.as_str()),
            )));
        };
        // A token names its user by id and username; after a database is replaced, the id
        // may be gone or belong to someone new.
        if senders.get(&draft.sender_id) != Some(&draft.sender) {
            return Ok(Err(Rejection::new(
                RejectCode::Forbidden,
                "the token names a user who has no account here; sign in again",
            )));
        }
        Ok(Ok(room_id))
    }
}

/// What a client is told when the database refused its message alone: to send it again
/// after a transient conflict, or that sending it again will not help.
fn rejection_for(e: &StorageError) -> Rejection {
    if e.is_transient() {
        Rejection::new(
            RejectCode::NotSaved,
            "the message could not be stored; send it again with the same client_id",
        )
    } else {
        Rejection::new(RejectCode::BadRequest, "the database refused this message")
    }
}

/// `ws` inside `all`: saves go straight to the service, no HTTP.
#[derive(Clone)]
pub struct DirectStore(pub ChatService);

fn unavailable(e: StorageError) -> Unavailable {
    Unavailable(e.to_string())
}

#[async_trait::async_trait(?Send)]
impl EventStore for DirectStore {
    async fn save(&self, drafts: Vec<Draft>) -> Result<Vec<SaveOutcome>, Unavailable> {
        self.0.save(drafts).await.map_err(unavailable)
    }

    async fn room_exists(&self, room: &RoomName) -> Result<bool, Unavailable> {
        self.0
            .room_id(room.as_str())
            .await
            .map(|id| id.is_some())
            .map_err(unavailable)
    }
}

impl Connector<dyn EventStore> for DirectStore {
    fn connect(&self) -> Arc<dyn EventStore> {
        Arc::new(self.clone())
    }
}
