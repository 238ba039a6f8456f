//! How `front` learns who is online: the `ws` nodes know.

use super::Unavailable;

#[async_trait::async_trait(?Send)]
pub trait PresenceApi {
    /// The users online in `room` on every node, each once.
    async fn users(&self, room: &str) -> Result<Vec<String>, Unavailable>;
}
