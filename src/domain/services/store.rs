//! How `ws`, which has no database, stores room events.

use crate::domain::{Draft, RoomName, SaveOutcome};

use super::Unavailable;

/// The answer to a `join`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Joined,
    /// As far as this user may know, there is no such room.
    NoSuchRoom,
    /// The token names no active account (gone, deactivated, or its id someone else's).
    Refused,
}

/// Stores batches of drafts, each draft independently of the others' faults, idempotently
/// per (sender, client id).
#[async_trait::async_trait(?Send)]
pub trait EventStore {
    /// One outcome per draft, in order; `Err` only when nothing could be done at all.
    async fn save(&self, drafts: Vec<Draft>) -> Result<Vec<SaveOutcome>, Unavailable>;

    /// A user's `join` (the token's id and username): whether they may subscribe to the
    /// room (a public one, which makes them a member, or a members-only one they belong to).
    async fn join(
        &self,
        room: &RoomName,
        user_id: i64,
        username: &str,
    ) -> Result<Admission, Unavailable>;
}
