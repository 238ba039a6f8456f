//! One node: room events go through the sequencer to the local hub.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::{Bus, Sequencer};
use crate::domain::RoomEvent;
use crate::ws::frames;
use crate::ws::hub::{Hub, Importance};

pub struct LocalBus {
    hub: Arc<Hub>,
    order: Sequencer,
}

impl LocalBus {
    pub fn new(hub: Arc<Hub>) -> Self {
        Self {
            // This node's persister is the only source, and it hands over each room's
            // events in seq order: a gap is never worth waiting for.
            order: Sequencer::new(hub.clone(), None),
            hub,
        }
    }
}

impl Bus for LocalBus {
    fn announce(&self, event: &RoomEvent) {
        let seq = event.seq().max(0) as u64;
        self.order.offer(event.room(), seq, frames::event(event));
        super::after_delivery(&self.hub, event.room(), event.removes());
    }

    fn close_session(&self, session: &str) {
        self.hub.close_session(session, super::CLOSE_ACCOUNT);
    }

    fn close_account(&self, user: &str) {
        self.hub.close_user(user, super::CLOSE_ACCOUNT);
    }

    fn publish_typing(&self, room: &str, sender: &str) {
        let frame = frames::presence_news("typing", room, sender);
        self.hub
            .broadcast_from(room, sender, &frame, Importance::Droppable);
    }

    fn joined(&self, room: &str, user: &Arc<str>) {
        self.hub.announce("join", room, user);
    }

    fn left(&self, room: &str, user: &Arc<str>) {
        self.hub.announce("leave", room, user);
    }

    fn online(&self, _room: &str) -> Option<oneshot::Receiver<Vec<String>>> {
        None
    }
}
