//! How `ws`, which has no database, stores room events.

use crate::domain::{Draft, RoomName, SaveOutcome};

use super::Unavailable;

/// Stores batches of drafts, each draft independently of the others' faults, idempotently
/// per (sender, client id).
#[async_trait::async_trait(?Send)]
pub trait EventStore {
    /// One outcome per draft, in order; `Err` only when nothing could be done at all.
    async fn save(&self, drafts: Vec<Draft>) -> Result<Vec<SaveOutcome>, Unavailable>;

    /// Whether a room of this name exists (rooms are never deleted, so a yes may be cached).
    async fn room_exists(&self, room: &RoomName) -> Result<bool, Unavailable>;
}
