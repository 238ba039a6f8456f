//! Several `ws` nodes over Redis pub/sub. Each node delivers its own events locally at
//! once and publishes them on one channel; every node delivers what the *others* publish.
//! Chat messages pass through a [`Sequencer`], so every node delivers a room's messages in
//! `seq` order whichever node stored them. Presence is shared through Redis too (see
//! [`redis_presence`](super::redis_presence)); commands to Redis go out in pipelines (see
//! [`redis_commands`](super::redis_commands)).
//!
//! While Redis is unreachable, local delivery goes on, `/healthz` says `degraded`, events
//! for other nodes are dropped (their clients fill the gap from history by `seq`), presence
//! is this node's own, and both directions reconnect with backoff.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};

use super::bus::Bus;
use super::frames;
use super::hub::{Hub, Importance};
use super::redis_commands::{Command, connect_retrying, run_commands};
use super::sequencer::{ORDER_WAIT, Sequencer};
use super::socket::text_frame;
use crate::domain::Message;

/// Commands waiting for Redis; beyond this many, new ones are dropped (clients catch up).
const QUEUE: usize = 65_536;
/// How a node joins the bus.
#[derive(Clone)]
pub struct RedisOptions {
    pub url: String,
    /// Prefix of every Redis key and channel (`bus.channel`): nodes sharing it share a chat.
    pub prefix: String,
    /// How long a node's presence entries outlive its last refresh (`bus.presence_ttl_secs`).
    pub presence_ttl: Duration,
}

/// What the Redis thread shares with the bus.
pub(super) struct Shared {
    pub(super) hub: Arc<Hub>,
    order: Sequencer,
    pub(super) node: String,
    pub(super) options: RedisOptions,
    /// `<prefix>:events`, the channel every node publishes on and listens to.
    events: String,
    /// Both directions work: commands (publishing, presence) and the subscription.
    up: Arc<AtomicBool>,
    pub(super) commands_up: AtomicBool,
    subscribed: AtomicBool,
}

impl Shared {
    pub(super) fn events_channel(&self) -> &str {
        &self.events
    }

    /// `node \n kind \n room \n arg \n json`: a header to route by, the frame to deliver.
    /// `arg` is the message's seq for `chat`, the user otherwise.
    fn envelope(&self, kind: &str, room: &str, arg: &str, json: &str) -> String {
        format!("{}\n{kind}\n{room}\n{arg}\n{json}", self.node)
    }

    /// Records whether one direction works; the bus is up when both do.
    pub(super) fn set(&self, direction: &AtomicBool, works: bool) {
        direction.store(works, Ordering::Relaxed);
        let up =
            self.commands_up.load(Ordering::Relaxed) && self.subscribed.load(Ordering::Relaxed);
        if !up && self.up.swap(false, Ordering::Relaxed) {
            // Other nodes' messages will not arrive: nothing is worth waiting for.
            self.order.release_all();
        } else if up {
            self.up.store(true, Ordering::Relaxed);
        }
    }
}

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
        let shared = Arc::new(Shared {
            order: Sequencer::new(hub.clone()),
            hub,
            node,
            events: format!("{}:events", options.prefix),
            options,
            up: Arc::new(AtomicBool::new(false)),
            commands_up: AtomicBool::new(false),
            subscribed: AtomicBool::new(false),
        });
        let (thread_shared, refresh) = (shared.clone(), commands.clone());
        std::thread::Builder::new()
            .name("redis-bus".into())
            .spawn(move || {
                let shared = thread_shared;
                runtime.block_on(async move {
                    tokio::join!(
                        run_commands(client.clone(), &shared, rx),
                        subscriber(client, &shared),
                        refresher(&shared, refresh),
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
        self.shared.up.load(Ordering::Relaxed)
    }

    fn send(&self, command: Command) -> bool {
        // Full or closed: other nodes' clients catch up from history, and presence is
        // refreshed within a third of its TTL.
        self.commands.try_send(command).is_ok()
    }
}

impl Bus for RedisBus {
    fn publish_chat(&self, message: &Message) {
        let json = frames::chat_json(message);
        let seq = message.seq.max(0) as u64;
        if self.up() {
            let envelope = self
                .shared
                .envelope("chat", &message.room, &seq.to_string(), &json);
            self.shared
                .order
                .offer(&message.room, seq, text_frame(json));
            self.send(Command::Publish(envelope));
        } else {
            self.shared
                .hub
                .broadcast(&message.room, &text_frame(json), Importance::Essential);
        }
    }

    fn publish_typing(&self, room: &str, sender: &str) {
        let json = frames::event_json("typing", room, sender);
        let envelope = self
            .up()
            .then(|| self.shared.envelope("typing", room, sender, &json));
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
        if shared.up.load(Ordering::Relaxed) && commands.send(Command::Refresh).await.is_err() {
            return;
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
    loop {
        let mut pubsub = connect_retrying(shared, &shared.subscribed, "subscribe", || async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(channel).await?;
            Ok(pubsub)
        })
        .await;
        tracing::info!("Redis bus: subscribed");
        let mut messages = pubsub.on_message();
        while let Some(msg) = messages.next().await {
            let Ok(payload) = msg.get_payload::<String>() else {
                continue;
            };
            deliver(shared, &payload);
        }
        drop(messages);
        shared.set(&shared.subscribed, false);
        tracing::warn!("Redis bus: subscription lost; reconnecting");
    }
}

/// Delivers another node's event to this node's subscribers.
fn deliver(shared: &Shared, envelope: &str) {
    let mut parts = envelope.splitn(5, '\n');
    let (Some(node), Some(kind), Some(room), Some(arg), Some(json)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return;
    };
    if node == shared.node {
        return;
    }
    let frame = text_frame(json.to_owned());
    match kind {
        "chat" => match arg.parse::<u64>() {
            Ok(seq) => shared.order.offer(room, seq, frame),
            Err(_) => shared.hub.broadcast(room, &frame, Importance::Essential),
        },
        "typing" | "join" | "leave" => {
            shared
                .hub
                .broadcast_from(room, arg, &frame, Importance::Droppable)
        }
        _ => {}
    }
}
