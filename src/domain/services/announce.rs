//! How `front` tells the `ws` nodes of what it changed itself (a membership, an account):
//! the event is stored first, then announced through a node's bus to every node.

use crate::domain::RoomEvent;

use super::Unavailable;

#[async_trait::async_trait(?Send)]
pub trait Announcer {
    /// A stored room event, to every subscriber of its room on every node (a
    /// `member_removed` also ends the user's subscriptions to the room).
    async fn announce(&self, event: &RoomEvent) -> Result<(), Unavailable>;

    /// The account can no longer be used: close its sockets on every node.
    async fn close_account(&self, username: &str) -> Result<(), Unavailable>;

    /// These sessions ended: close the sockets they opened on every node, and open none
    /// with their access tokens from now on.
    async fn close_sessions(&self, sessions: &[String]) -> Result<(), Unavailable>;
}
