//! Several `ws` nodes over Redis pub/sub. Each node delivers its own events locally at
//! once and publishes them on one channel ([`envelope`]); every node delivers what the
//! *others* publish. Room events pass through a [`Sequencer`], so every node delivers a
//! room's events in `seq` order, once, whichever node stored them. Presence is shared
//! through Redis too ([`presence`]); commands to Redis go out in pipelines ([`commands`]).
//!
//! While Redis is unreachable, local delivery goes on, `/healthz` says `degraded`, events
//! for other nodes wait in the command queue (bounded) and are published once it
//! reconnects, presence is this node's own, and both directions reconnect with backoff.
//! A subscription that was lost (or went silent) has missed what others published
//! meanwhile: once it is back, the node closes its sockets (1012) and its clients
//! reconnect and catch up from the events feed.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};

mod commands;
pub mod envelope;
pub mod presence;
mod shared;

use commands::{Command, connect_retrying, run_commands};
use envelope::{Presence, Topic};
pub use shared::RedisOptions;
use shared::Shared;

use super::Bus;
use super::sequencer::{ORDER_WAIT, Sequencer};
use crate::domain::RoomEvent;
use crate::ws::frames;
use crate::ws::hub::{Hub, Importance};
use crate::ws::transport::text_frame;

/// Commands waiting for Redis; beyond this many, new ones are dropped (clients catch up).
const QUEUE: usize = 65_536;

pub struct RedisBus {
    shared: Arc<Shared>,
    commands: mpsc::Sender<Command>,
}

impl RedisBus {
    /// Starts the Redis side (commands, subscription, presence refresh and the order
    /// timer) on a thread of its own.
    pub fn start(options: RedisOptions, hub: Arc<Hub>) -> Result<Arc<Self>, String> {
        let client =
            redis::Client::open(options.url.as_str()).map_err(|e| format!("bus.redis_url: {e}"))?;
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).map_err(|e| e.to_string())?;
        let node: String = seed.iter().map(|b| format!("{b:02x}")).collect();
        let (commands, rx) = mpsc::channel(QUEUE);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let order = Sequencer::new(hub.clone(), Some(ORDER_WAIT));
        let shared = Arc::new(Shared::new(hub, order, node, options));
        let (thread_shared, refresh) = (shared.clone(), commands.clone());
        std::thread::Builder::new()
            .name("redis-bus".into())
            .spawn(move || {
                let shared = thread_shared;
                runtime.block_on(async move {
                    tokio::join!(
                        run_commands(client.clone(), &shared, rx),
                        subscriber(client, &shared),
                        refresher(&shared, refresh.clone()),
                        heartbeat(&shared, refresh),
                        order_timer(&shared),
                    );
                });
            })
            .map_err(|e| e.to_string())?;
        tracing::info!(node = %shared.node, "ws node joins the Redis bus");
        Ok(Arc::new(Self { shared, commands }))
    }

    /// Whether Redis is reachable (for `/healthz`).
    pub fn health_flag(&self) -> Arc<AtomicBool> {
        self.shared.up.clone()
    }

    fn up(&self) -> bool {
        self.shared.is_up()
    }

    fn send(&self, command: Command) -> bool {
        // Full or closed: other nodes' clients catch up from history, and presence is
        // refreshed within a third of its TTL.
        self.commands.try_send(command).is_ok()
    }
}

impl Bus for RedisBus {
    fn announce(&self, event: &RoomEvent) {
        let json = event.to_json();
        let (room, seq) = (event.room(), event.seq().max(0) as u64);
        // Published whether or not this node delivered it before: a node that missed it
        // delivers it, the others drop the repeat. Queued while Redis is away too (up to
        // the queue's bound): it goes out once the commands reconnect, late, and the other
        // nodes deliver it then rather than leave a gap no later event may ever reveal.
        let topic = Topic::Event {
            kind: event.kind(),
            seq,
        };
        let envelope = envelope::encode(&self.shared.node, room, topic, &json);
        self.shared.order.offer(room, seq, text_frame(json));
        super::after_delivery(&self.shared.hub, room, event.removes());
        self.send(Command::Publish(envelope));
    }

    fn close_account(&self, user: &str) {
        self.shared.hub.close_user(user, super::CLOSE_ACCOUNT);
        if self.up() {
            let topic = Topic::AccountClosed { user };
            let envelope = envelope::encode(&self.shared.node, "", topic, "{}");
            self.send(Command::Publish(envelope));
        }
    }

    fn close_session(&self, session: &str) {
        self.shared.hub.close_session(session, super::CLOSE_ACCOUNT);
        if self.up() {
            let topic = Topic::SessionEnded { session };
            let envelope = envelope::encode(&self.shared.node, "", topic, "{}");
            self.send(Command::Publish(envelope));
        }
    }

    fn publish_typing(&self, room: &str, sender: &str) {
        let json = frames::presence_news_json("typing", room, sender);
        let envelope = self.up().then(|| {
            let topic = Topic::Presence {
                kind: Presence::Typing,
                user: sender,
            };
            envelope::encode(&self.shared.node, room, topic, &json)
        });
        self.shared
            .hub
            .broadcast_from(room, sender, &text_frame(json), Importance::Droppable);
        if let Some(envelope) = envelope {
            self.send(Command::Publish(envelope));
        }
    }

    fn joined(&self, room: &str, user: &Arc<str>) {
        let queued = self.up()
            && self.send(Command::Touch {
                room: room.to_owned(),
                users: vec![user.clone()],
            });
        if !queued {
            self.shared.hub.announce("join", room, user);
        }
    }

    fn left(&self, room: &str, user: &Arc<str>) {
        let queued = self.up()
            && self.send(Command::Drop {
                room: room.to_owned(),
                user: user.clone(),
            });
        if !queued {
            self.shared.hub.announce("leave", room, user);
        }
    }

    fn online(&self, room: &str) -> Option<oneshot::Receiver<Vec<String>>> {
        if !self.up() {
            return None;
        }
        let (reply, answer) = oneshot::channel();
        self.send(Command::Online {
            room: room.to_owned(),
            reply,
        })
        .then_some(answer)
    }
}

/// Asks for a presence refresh every third of the TTL.
async fn refresher(shared: &Shared, commands: mpsc::Sender<Command>) {
    let mut every = tokio::time::interval(shared.options.presence_ttl / 3);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if shared.is_up() && commands.send(Command::Refresh).await.is_err() {
            return;
        }
    }
}

/// How often a node publishes a heartbeat.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
/// A subscription that hears nothing (not even this node's own heartbeats) for this long
/// has gone silent without closing (a dead peer, a stalled network): it is dropped, the bus
/// says `degraded`, and it reconnects. Clients fill what they missed from the events feed.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(10);

/// Publishes this node's heartbeat while its commands reach Redis.
async fn heartbeat(shared: &Shared, commands: mpsc::Sender<Command>) {
    let mut every = tokio::time::interval(HEARTBEAT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let envelope = envelope::encode(&shared.node, "", Topic::Heartbeat, "{}");
    loop {
        every.tick().await;
        if shared
            .commands_up
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            // A full queue means Redis is behind: the subscription hears the rest anyway.
            let _ = commands.try_send(Command::Publish(envelope.clone()));
        }
    }
}

/// Delivers messages that waited out their predecessor.
async fn order_timer(shared: &Shared) {
    let mut every = tokio::time::interval(ORDER_WAIT / 4);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        shared.order.flush_overdue(Instant::now());
    }
}

async fn subscriber(client: redis::Client, shared: &Shared) {
    let channel = shared.events_channel();
    let mut first = true;
    loop {
        let mut pubsub = connect_retrying(shared, &shared.subscribed, "subscribe", || async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(channel).await?;
            Ok(pubsub)
        })
        .await;
        tracing::info!("Redis bus: subscribed");
        if !std::mem::take(&mut first) {
            // What other nodes published while this node was not listening is gone for
            // good, and a room that went quiet since would never show its clients the
            // gap: they reconnect (1012), join again and catch up from the events feed.
            tracing::warn!(
                "Redis bus: resubscribed; closing this node's sockets so clients catch up"
            );
            shared.hub.close_all(crate::ws::CLOSE_RESTART);
        }
        let mut messages = pubsub.on_message();
        loop {
            match tokio::time::timeout(SILENCE_LIMIT, messages.next()).await {
                Ok(Some(msg)) => {
                    let Ok(payload) = msg.get_payload::<String>() else {
                        continue;
                    };
                    deliver(shared, &payload);
                }
                Ok(None) => {
                    tracing::warn!("Redis bus: subscription lost; reconnecting");
                    break;
                }
                Err(_) => {
                    tracing::warn!(
                        silent_secs = SILENCE_LIMIT.as_secs(),
                        "Redis bus: the subscription went silent; reconnecting"
                    );
                    break;
                }
            }
        }
        drop(messages);
        shared.set(&shared.subscribed, false);
    }
}

/// Delivers another node's event or news to this node's subscribers.
fn deliver(shared: &Shared, payload: &str) {
    let Some(envelope) = envelope::decode(payload) else {
        return;
    };
    if envelope.node == shared.node {
        return;
    }
    let frame = text_frame(envelope.json.to_owned());
    match envelope.topic {
        Topic::Event { kind, seq } => {
            shared.order.offer(envelope.room, seq, frame);
            if kind == crate::domain::EventKind::MemberRemoved {
                let removed = serde_json::from_str::<serde_json::Value>(envelope.json)
                    .ok()
                    .and_then(|v| v["user"].as_str().map(str::to_owned));
                super::after_delivery(&shared.hub, envelope.room, removed.as_deref());
            }
        }
        Topic::AccountClosed { user } => {
            shared.hub.close_user(user, super::CLOSE_ACCOUNT);
        }
        Topic::SessionEnded { session } => {
            shared.hub.close_session(session, super::CLOSE_ACCOUNT);
        }
        Topic::Heartbeat => {}
        Topic::Presence { user, .. } => {
            shared
                .hub
                .broadcast_from(envelope.room, user, &frame, Importance::Droppable)
        }
    }
}
