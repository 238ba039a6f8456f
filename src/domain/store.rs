//! How `ws` persists messages without a database: through this trait, which `server.rs`
//! fills with `front`'s own implementation inside `all` and with an HTTP client when the
//! roles run apart.

use serde::{Deserialize, Serialize};

use super::Message;

/// A message to store, on behalf of a user whose token `ws` verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    pub room: String,
    pub sender_id: i64,
    pub sender: String,
    pub content: String,
    pub client_id: Option<String>,
}

/// What became of one draft, in the order the drafts were given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SaveOutcome {
    /// Stored now, with a fresh seq: acknowledge it and broadcast it.
    Stored { message: Message },
    /// The sender had stored this client id before: acknowledge the original, broadcast
    /// nothing.
    Duplicate { message: Message },
    /// Refused for a reason a retry will not change (say, an unknown room).
    Rejected { code: String, message: String },
}

/// The store could not be reached or failed as a whole; nothing of the batch is known to
/// be stored, and resending the same client ids is safe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreUnavailable(pub String);

/// Stores batches of messages, each batch in one transaction, idempotently per
/// (sender, client id).
#[async_trait::async_trait(?Send)]
pub trait MessageStore {
    async fn save(&self, drafts: Vec<Draft>) -> Result<Vec<SaveOutcome>, StoreUnavailable>;

    /// Whether a room of this name exists (rooms are never deleted, so a yes may be cached).
    async fn room_exists(&self, room: &str) -> Result<bool, StoreUnavailable>;
}

/// Builds a [`MessageStore`] on the thread that will use it (an HTTP client is per thread).
pub trait StoreFactory: Send + Sync {
    fn build(&self) -> Box<dyn MessageStore>;
}
