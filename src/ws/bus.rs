//! How stored messages and room events reach subscribers: through a bus, so that several
//! `ws` nodes can share them. In-process (one node, and `all`) the bus is the local hub.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::frames;
use super::hub::{Hub, Importance};
use crate::domain::Message;

pub trait Bus: Send + Sync {
    /// A stored chat message: to every subscriber of its room, on every node.
    fn publish_chat(&self, message: &Message);

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

/// One node: deliver straight to the local hub.
pub struct LocalBus(pub Arc<Hub>);

impl Bus for LocalBus {
    fn publish_chat(&self, message: &Message) {
        let frame = frames::chat(message);
        self.0
            .broadcast(&message.room, &frame, Importance::Essential);
    }

    fn publish_typing(&self, room: &str, sender: &str) {
        let frame = frames::event("typing", room, sender);
        self.0
            .broadcast_from(room, sender, &frame, Importance::Droppable);
    }

    fn joined(&self, room: &str, user: &Arc<str>) {
        self.0.announce("join", room, user);
    }

    fn left(&self, room: &str, user: &Arc<str>) {
        self.0.announce("leave", room, user);
    }

    fn online(&self, _room: &str) -> Option<oneshot::Receiver<Vec<String>>> {
        None
    }
}
