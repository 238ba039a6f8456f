//! What the Redis bus's tasks share: the node's identity and options, the hub and the
//! sequencer it delivers through, and whether each direction of Redis works.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::ws::bus::Sequencer;
use crate::ws::hub::Hub;

/// How a node joins the bus.
#[derive(Clone)]
pub struct RedisOptions {
    pub url: String,
    /// Prefix of every Redis key and channel (`bus.channel`): nodes sharing it share a chat.
    pub prefix: String,
    /// How long a node's presence entries outlive its last refresh (`bus.presence_ttl_secs`).
    pub presence_ttl: Duration,
}

pub struct Shared {
    pub hub: Arc<Hub>,
    pub order: Sequencer,
    pub node: String,
    pub options: RedisOptions,
    /// `<prefix>:events`, the channel every node publishes on and listens to.
    events: String,
    /// Both directions work: commands (publishing, presence) and the subscription.
    pub up: Arc<AtomicBool>,
    pub commands_up: AtomicBool,
    pub subscribed: AtomicBool,
}

impl Shared {
    pub fn new(hub: Arc<Hub>, order: Sequencer, node: String, options: RedisOptions) -> Self {
        Self {
            hub,
            order,
            node,
            events: format!("{}:events", options.prefix),
            options,
            up: Arc::new(AtomicBool::new(false)),
            commands_up: AtomicBool::new(false),
            subscribed: AtomicBool::new(false),
        }
    }

    pub fn events_channel(&self) -> &str {
        &self.events
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Records whether one direction works; the bus is up when both do.
    pub fn set(&self, direction: &AtomicBool, works: bool) {
        direction.store(works, Ordering::Relaxed);
        let up =
            self.commands_up.load(Ordering::Relaxed) && self.subscribed.load(Ordering::Relaxed);
        if !up && self.up.swap(false, Ordering::Relaxed) {
            // Other nodes' events will not arrive: nothing is worth waiting for.
            self.order.release_all();
        } else if up {
            self.up.store(true, Ordering::Relaxed);
        }
    }
}
