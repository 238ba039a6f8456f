//! How stored messages reach subscribers: through a bus, so that several `ws` nodes can
//! share them. In-process (one node, and `all`) the bus is the local hub itself.

use std::sync::Arc;

use super::frames;
use super::hub::{Hub, Importance};
use crate::domain::Message;

pub trait Bus: Send + Sync {
    /// A stored chat message: to every subscriber of its room, on every node.
    fn publish_chat(&self, message: &Message);

    /// Someone is typing: to the room's other users, on every node.
    fn publish_typing(&self, room: &str, sender: &str);
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
}
