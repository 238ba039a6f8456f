//! The chat service behind `front`'s REST API and internal save route: room look-ups
//! (cached: rooms are never renamed or deleted, and `front` is the one writer of their
//! kind, archived flag and memberships, so it keeps its caches true), history, and saving
//! drafts from `ws`.
//! A sender is checked before their first message is stored: a token can outlive its account
//! (a database replaced, the signing key kept), and such a message must be refused alone
//! rather than fail the batch it shares with others on a foreign key.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use crate::domain::services::{Admission, Connector, EventStore, Unavailable};
use crate::domain::{
    Change, Draft, Message, RejectCode, Rejection, RoomEvent, RoomKind, RoomName, SaveOutcome,
};
use crate::storage::events::{self, EventPage};
use crate::storage::messages::{self, Cursor, NewMessage, Saved};
use crate::storage::{Db, StorageError, memberships, room_events, rooms, users};

/// What the chat path needs of a room, cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomMeta {
    pub id: i64,
    pub kind: RoomKind,
    pub archived: bool,
}

#[derive(Clone)]
pub struct ChatService {
    db: Db,
    rooms: Arc<RwLock<HashMap<String, RoomMeta>>>,
    /// Active senders found, by id, with their usernames (users are never renamed; a
    /// deactivated one is forgotten here).
    senders: Arc<RwLock<HashMap<i64, String>>>,
    /// (room, user) memberships known to exist; removals forget them.
    members: Arc<RwLock<HashSet<(i64, i64)>>>,
}

impl ChatService {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            rooms: Arc::new(RwLock::new(HashMap::new())),
            senders: Arc::new(RwLock::new(HashMap::new())),
            members: Arc::new(RwLock::new(HashSet::new())),
        }
    }

    /// A user was deactivated: their messages are refused from now on.
    pub fn forget_sender(&self, id: i64) {
        if let Ok(mut known) = self.senders.write() {
            known.remove(&id);
        }
    }

    /// The room's archived flag changed.
    pub fn set_archived(&self, name: &str, archived: bool) {
        if let Ok(mut rooms) = self.rooms.write()
            && let Some(meta) = rooms.get_mut(name)
        {
            meta.archived = archived;
        }
    }

    /// Whether `user_id` is a member of the room (remembered once true).
    pub async fn is_member(&self, room_id: i64, user_id: i64) -> Result<bool, StorageError> {
        if self
            .members
            .read()
            .is_ok_and(|m| m.contains(&(room_id, user_id)))
        {
            return Ok(true);
        }
        let member = self
            .db
            .run(move |conn| memberships::is_member(conn, room_id, user_id))
            .await?;
        if member && let Ok(mut known) = self.members.write() {
            known.insert((room_id, user_id));
        }
        Ok(member)
    }

    /// Adds or removes a member as the room's next event (`member_added`,
    /// `member_removed`), stored with the change. `None`: nothing changed.
    pub async fn change_membership(
        &self,
        room: &str,
        room_id: i64,
        subject_id: i64,
        actor_id: i64,
        added: bool,
    ) -> Result<Option<RoomEvent>, StorageError> {
        if !added && let Ok(mut known) = self.members.write() {
            known.remove(&(room_id, subject_id));
        }
        let room = room.to_owned();
        let event = self
            .db
            .run(move |conn| {
                room_events::change_membership(
                    conn,
                    room_events::Change {
                        room_id,
                        room_name: &room,
                        subject_id,
                        actor_id,
                        added,
                    },
                )
            })
            .await?;
        if added && let Ok(mut known) = self.members.write() {
            known.insert((room_id, subject_id));
        }
        Ok(event)
    }

    /// Makes `user_id` a member of the room (quietly: joining a public room).
    async fn add_member(&self, room_id: i64, user_id: i64) -> Result<bool, StorageError> {
        let added = self
            .db
            .run(move |conn| memberships::add(conn, room_id, user_id))
            .await?;
        if let Ok(mut known) = self.members.write() {
            known.insert((room_id, user_id));
        }
        Ok(added)
    }

    /// Whether `user_id` may read the room: every public room, and the members-only rooms
    /// they are a member of. Everyone else is told the room does not exist.
    pub async fn may_read(&self, room: &RoomMeta, user_id: i64) -> Result<bool, StorageError> {
        if !room.kind.members_only() {
            return Ok(true);
        }
        self.is_member(room.id, user_id).await
    }

    /// A `join` over the WebSocket: allowed where the user may read; joining a public room
    /// makes them a member. The token's id and username must name an active account.
    pub async fn join(
        &self,
        name: &str,
        user_id: i64,
        username: &str,
    ) -> Result<Admission, StorageError> {
        let accounts = self.sender_ids_names(&[user_id]).await?;
        if accounts.get(&user_id).map(String::as_str) != Some(username) {
            return Ok(Admission::Refused);
        }
        let Some(room) = self.room(name).await? else {
            return Ok(Admission::NoSuchRoom);
        };
        if room.kind.members_only() {
            return Ok(if self.is_member(room.id, user_id).await? {
                Admission::Joined
            } else {
                Admission::NoSuchRoom
            });
        }
        if !self
            .members
            .read()
            .is_ok_and(|m| m.contains(&(room.id, user_id)))
        {
            self.add_member(room.id, user_id).await?;
        }
        Ok(Admission::Joined)
    }

    /// The usernames of a batch's senders that have an account: those seen before from
    /// memory, the others with one query (a miss is not remembered: after a database is
    /// replaced, someone may yet register under that id).
    async fn sender_names(&self, drafts: &[Draft]) -> Result<HashMap<i64, String>, StorageError> {
        let ids: Vec<i64> = drafts.iter().map(|d| d.sender_id).collect();
        self.sender_ids_names(&ids).await
    }

    /// [`Self::sender_names`] for ids.
    async fn sender_ids_names(&self, ids: &[i64]) -> Result<HashMap<i64, String>, StorageError> {
        let ids: BTreeSet<i64> = ids.iter().copied().collect();
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

    /// The room with this name, if there is one.
    pub async fn room(&self, name: &str) -> Result<Option<RoomMeta>, StorageError> {
        if name.contains('\0') {
            // No room has one (names are checked when rooms are made), and PostgreSQL
            // refuses U+0000 in a query's text: the look-up would fail with a 500.
            return Ok(None);
        }
        if let Some(meta) = self.rooms.read().ok().and_then(|r| r.get(name).copied()) {
            return Ok(Some(meta));
        }
        let owned = name.to_owned();
        let room = self
            .db
            .run(move |conn| rooms::find_by_name(conn, &owned))
            .await?;
        Ok(room.map(|room| {
            let meta = RoomMeta {
                id: room.id,
                kind: room.kind(),
                archived: room.archived,
            };
            if let Ok(mut map) = self.rooms.write() {
                map.insert(room.name, meta);
            }
            meta
        }))
    }

    /// The id of the room with this name, if there is one (whoever asks).
    pub async fn room_id(&self, name: &str) -> Result<Option<i64>, StorageError> {
        Ok(self.room(name).await?.map(|r| r.id))
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
        // Deletes go after the batch's messages (one may delete a message of the batch).
        let mut deletes: Vec<(usize, i64, Draft)> = Vec::new();
        for (i, draft) in drafts.into_iter().enumerate() {
            match self.prepare(&draft, &senders).await? {
                Ok(room_id) => match draft.change {
                    Change::Chat { content } => {
                        batch.push(NewMessage {
                            room_id,
                            sender_id: draft.sender_id,
                            content,
                            client_id: Some(draft.client_id),
                        });
                        stored.push((i, draft.room, draft.sender));
                    }
                    Change::Delete { .. } => deletes.push((i, room_id, draft)),
                },
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
                        deleted: false,
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
        for (i, room_id, draft) in deletes {
            outcomes[i] = Some(self.delete(room_id, draft).await?);
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

    /// A delete, in a transaction of its own (deletes are rare; each checks who may).
    async fn delete(&self, room_id: i64, draft: Draft) -> Result<SaveOutcome, StorageError> {
        let Change::Delete { id } = draft.change else {
            return Ok(SaveOutcome::Rejected {
                reason: Rejection::new(RejectCode::BadRequest, "not a delete"),
            });
        };
        let done = self
            .db
            .run(move |conn| {
                room_events::delete_message(
                    conn,
                    room_events::Delete {
                        room_id,
                        room_name: draft.room.as_str(),
                        message_id: id,
                        actor_id: draft.sender_id,
                        client_id: draft.client_id.as_str(),
                    },
                )
            })
            .await;
        Ok(match done {
            Ok(room_events::Deleted::Now(event)) => SaveOutcome::Stored { event },
            Ok(room_events::Deleted::Before(event)) => SaveOutcome::Duplicate { event },
            Ok(room_events::Deleted::NoSuchMessage) => SaveOutcome::Rejected {
                reason: Rejection::new(RejectCode::NotFound, format!("no message {id} here")),
            },
            Ok(room_events::Deleted::NotAllowed) => SaveOutcome::Rejected {
                reason: Rejection::new(
                    RejectCode::Forbidden,
                    "only its sender or an administrator deletes a message",
                ),
            },
            Err(e) if e.is_unavailable() => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "a delete failed");
                SaveOutcome::Rejected {
                    reason: rejection_for(&e),
                }
            }
        })
    }

    /// Checks a draft's sender against `senders` (from [`Self::sender_names`]) and finds
    /// its room's id; a refusal is its outcome. Its fields were parsed at the door.
    async fn prepare(
        &self,
        draft: &Draft,
        senders: &HashMap<i64, String>,
    ) -> Result<Result<i64, Rejection>, StorageError> {
        let not_found = || {
            Ok(Err(Rejection::new(
                RejectCode::NotFound,
                format!("no room named {:?}", draft.room.as_str()),
            )))
        };
        let Some(room) = self.room(draft.room.as_str()).await? else {
            return not_found();
        };
        // A members-only room does not exist for anyone else (the check is cached: one
        // look-up per sender and room).
        if !self.may_read(&room, draft.sender_id).await? {
            return not_found();
        }
        if room.archived {
            return Ok(Err(Rejection::new(
                RejectCode::Forbidden,
                "this room is archived: it is read only",
            )));
        }
        let room_id = room.id;
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

    async fn join(
        &self,
        room: &RoomName,
        user_id: i64,
        username: &str,
    ) -> Result<Admission, Unavailable> {
        self.0
            .join(room.as_str(), user_id, username)
            .await
            .map_err(unavailable)
    }
}

impl Connector<dyn EventStore> for DirectStore {
    fn connect(&self) -> Arc<dyn EventStore> {
        Arc::new(self.clone())
    }
}
