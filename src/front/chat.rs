//! The chat service behind `front`'s REST API and internal save route: room look-ups
//! (cached: rooms are never renamed or deleted), history, and saving drafts from `ws`.
//! A sender is checked before their first message is stored: a token can outlive its account
//! (a database replaced, the signing key kept), and such a message must be refused alone
//! rather than fail the batch it shares with others on a foreign key.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use crate::domain::{ClientId, Draft, Message, MessageContent, SaveOutcome};
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

    /// Stores a batch of drafts in one transaction; one outcome per draft, in order.
    pub async fn save(&self, drafts: Vec<Draft>) -> Result<Vec<SaveOutcome>, StorageError> {
        let mut outcomes: Vec<Option<SaveOutcome>> = vec![None; drafts.len()];
        let mut to_store: Vec<(usize, NewMessage)> = Vec::with_capacity(drafts.len());
        let senders = self.sender_names(&drafts).await?;
        for (i, draft) in drafts.iter().enumerate() {
            match self.prepare(draft, &senders).await? {
                Ok(new) => to_store.push((i, new)),
                Err(rejected) => outcomes[i] = Some(rejected),
            }
        }
        if !to_store.is_empty() {
            let batch: Vec<NewMessage> = to_store.iter().map(|(_, m)| m.clone()).collect();
            let saved = self
                .db
                .run(move |conn| messages::save_batch(conn, &batch))
                .await?;
            for ((i, _), saved) in to_store.iter().zip(saved) {
                let draft = &drafts[*i];
                let message = |m: &messages::StoredMessage| Message {
                    id: m.id,
                    room: draft.room.clone(),
                    seq: m.seq,
                    sender: draft.sender.clone(),
                    content: m.content.clone(),
                    timestamp: m.created_at.and_utc(),
                    client_id: m.client_id.clone(),
                };
                outcomes[*i] = Some(match &saved {
                    Saved::New(m) => SaveOutcome::Stored {
                        message: message(m),
                    },
                    Saved::Existing(m) => SaveOutcome::Duplicate {
                        message: message(m),
                    },
                });
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or(SaveOutcome::Rejected {
                    code: "internal".into(),
                    message: "not processed".into(),
                })
            })
            .collect())
    }

    /// Checks a draft (its sender against `senders`, from [`Self::sender_names`]) and
    /// resolves its room; a refusal is its outcome.
    async fn prepare(
        &self,
        draft: &Draft,
        senders: &HashMap<i64, String>,
    ) -> Result<Result<NewMessage, SaveOutcome>, StorageError> {
        let reject = |code: &str, message: String| {
            Ok(Err(SaveOutcome::Rejected {
                code: code.into(),
                message,
            }))
        };
        let content = match MessageContent::parse(&draft.content) {
            Ok(c) => c,
            Err(e) => return reject("bad_request", e.to_string()),
        };
        if let Some(cid) = &draft.client_id
            && let Err(e) = ClientId::parse(cid)
        {
            return reject("bad_request", e.to_string());
        }
        let Some(room_id) = self.room_id(&draft.room).await? else {
            return reject("not_found", format!("no room named {:?}", draft.room));
        };
        // A token names its user by id and username; after a database is replaced, the id
        // may be gone or belong to someone new.
        if senders.get(&draft.sender_id) != Some(&draft.sender) {
            return reject(
                "forbidden",
                "the token names a user who has no account here; sign in again".into(),
            );
        }
        Ok(Ok(NewMessage {
            room_id,
            sender_id: draft.sender_id,
            content: content.into_string(),
            client_id: draft.client_id.clone(),
        }))
    }
}

/// `ws` inside `all`: saves go straight to the service, no HTTP.
pub struct DirectStore(pub ChatService);

#[async_trait::async_trait(?Send)]
impl crate::domain::MessageStore for DirectStore {
    async fn save(
        &self,
        drafts: Vec<Draft>,
    ) -> Result<Vec<SaveOutcome>, crate::domain::StoreUnavailable> {
        self.0
            .save(drafts)
            .await
            .map_err(|e| crate::domain::StoreUnavailable(e.to_string()))
    }

    async fn room_exists(&self, room: &str) -> Result<bool, crate::domain::StoreUnavailable> {
        self.0
            .room_id(room)
            .await
            .map(|id| id.is_some())
            .map_err(|e| crate::domain::StoreUnavailable(e.to_string()))
    }
}

impl crate::domain::StoreFactory for ChatService {
    fn build(&self) -> Box<dyn crate::domain::MessageStore> {
        Box::new(DirectStore(self.clone()))
    }
}
