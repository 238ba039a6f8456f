//! How stored room events and presence news reach subscribers: through a bus, so that
//! several `ws` nodes can share them. In-process (one node, and `all`) the bus is the
//! local hub; with Redis, every node's. Either way room events pass a [`Sequencer`], which
//! delivers each room's events in seq order and each seq to a node's subscribers once.

mod local;
pub mod redis;
pub mod sequencer;

use std::sync::Arc;

use tokio::sync::oneshot;

use crate::domain::RoomEvent;

pub use local::LocalBus;
pub use sequencer::Sequencer;

use crate::ws::hub::Hub;

/// Close code for a socket whose account can no longer be used: sign in again.
pub const CLOSE_ACCOUNT: u16 = crate::ws::CLOSE_UNAUTHORIZED;

/// After a room event is delivered on this node: a `member_removed` ends the user's
/// subscriptions to the room here, and their departure is told to the room.
pub fn after_delivery(hub: &Hub, room: &str, removed: Option<&str>) {
    if let Some(user) = removed
        && let Some(user) = hub.evict(room, user)
    {
        hub.announce("leave", room, &user);
    }
}

pub trait Bus: Send + Sync {
    /// A stored room event: to every subscriber of its room, on every node, once.
    fn announce(&self, event: &RoomEvent);

    /// The account can no longer be used: its sockets close on every node (4401).
    fn close_account(&self, user: &str);

    /// The session ended: the sockets it opened close on every node (4401), and no new one
    /// opens with its access tokens.
    fn close_session(&self, session: &str);

    /// Someone is typing: to the room's other users, on every node.
    fn publish_typing(&self, room: &str, sender: &str);

    /// `user`'s first connection in `room` on this node has joined: announce it to the
    /// room's other users wherever they are, unless the user was online there already.
    fn joined(&self, room: &str, user: &Arc<str>);

    /// `user`'s last connection in `room` on this node has left: announce it, unless the
    /// user is still online in the room on another node.
    fn left(&self, room: &str, user: &Arc<str>);

    /// The users online in `room` on every node, when that differs from this node's own
    /// view; `None`: this node's hub knows everyone.
    fn online(&self, room: &str) -> Option<oneshot::Receiver<Vec<String>>>;
}
