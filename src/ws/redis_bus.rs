//! Several `ws` nodes over Redis pub/sub. Each node delivers its own events locally at
//! once and publishes them on one channel; every node delivers what the *others* publish.
//! While Redis is unreachable, local delivery goes on, `/healthz` says `degraded`, events
//! for other nodes are dropped (their clients fill the gap from history by `seq`), and both
//! directions reconnect with backoff.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::bus::Bus;
use super::frames;
use super::hub::{Hub, Importance};
use super::socket::text_frame;
use crate::domain::Message;

/// Events waiting for Redis; beyond this many, new ones are dropped (clients catch up).
const PUBLISH_QUEUE: usize = 65_536;

pub struct RedisBus {
    hub: Arc<Hub>,
    node: String,
    outgoing: mpsc::Sender<String>,
    up: Arc<AtomicBool>,
}

impl RedisBus {
    /// Starts the publisher and the subscriber on a thread of their own.
    pub fn start(url: &str, channel: &str, hub: Arc<Hub>) -> Result<Arc<Self>, String> {
        let client = redis::Client::open(url).map_err(|e| format!("bus.redis_url: {e}"))?;
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).map_err(|e| e.to_string())?;
        let node: String = seed.iter().map(|b| format!("{b:02x}")).collect();
        let (outgoing, rx) = mpsc::channel(PUBLISH_QUEUE);
        let up = Arc::new(AtomicBool::new(false));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let (sub_client, sub_hub, sub_up, sub_node) =
            (client.clone(), hub.clone(), up.clone(), node.clone());
        let (pub_up, channel) = (up.clone(), channel.to_owned());
        let sub_channel = channel.clone();
        std::thread::Builder::new()
            .name("redis-bus".into())
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::join!(
                        publisher(client, channel, rx, pub_up),
                        subscriber(sub_client, sub_channel, sub_node, sub_hub, sub_up),
                    );
                });
            })
            .map_err(|e| e.to_string())?;
        tracing::info!(node = %node, "ws node joins the Redis bus");
        Ok(Arc::new(Self {
            hub,
            node,
            outgoing,
            up,
        }))
    }

    /// Whether Redis is reachable (both for publishing and for receiving).
    pub fn health_flag(&self) -> Arc<AtomicBool> {
        self.up.clone()
    }

    /// `node \n kind \n room \n sender \n json`: a header to route by, the frame to deliver.
    fn send(&self, kind: &str, room: &str, sender: &str, json: &str) {
        let envelope = format!("{}\n{kind}\n{room}\n{sender}\n{json}", self.node);
        // Full or closed: other nodes' clients will catch up from history.
        let _ = self.outgoing.try_send(envelope);
    }
}

impl Bus for RedisBus {
    fn publish_chat(&self, message: &Message) {
        let json = frames::chat_json(message);
        self.hub.broadcast(
            &message.room,
            &text_frame(json.clone()),
            Importance::Essential,
        );
        self.send("chat", &message.room, "", &json);
    }

    fn publish_typing(&self, room: &str, sender: &str) {
        let json =
            serde_json::json!({"type": "typing", "room": room, "sender": sender}).to_string();
        self.hub.broadcast_from(
            room,
            sender,
            &text_frame(json.clone()),
            Importance::Droppable,
        );
        self.send("typing", room, sender, &json);
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200u64.saturating_mul(1 << attempt.min(5)))
}

async fn publisher(
    client: redis::Client,
    channel: String,
    mut rx: mpsc::Receiver<String>,
    up: Arc<AtomicBool>,
) {
    let mut attempt = 0;
    loop {
        let mut conn = match client.get_multiplexed_async_connection().await {
            Ok(conn) => conn,
            Err(e) => {
                up.store(false, Ordering::Relaxed);
                tracing::warn!(error = %e, "Redis bus: cannot connect to publish");
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
                continue;
            }
        };
        attempt = 0;
        while let Some(envelope) = rx.recv().await {
            let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(&envelope)
                .query_async(&mut conn)
                .await;
            if let Err(e) = sent {
                up.store(false, Ordering::Relaxed);
                tracing::warn!(error = %e, "Redis bus: publish failed; reconnecting");
                break;
            }
        }
        if rx.is_closed() {
            return;
        }
    }
}

async fn subscriber(
    client: redis::Client,
    channel: String,
    node: String,
    hub: Arc<Hub>,
    up: Arc<AtomicBool>,
) {
    let mut attempt = 0;
    loop {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            redis::RedisResult::Ok(pubsub)
        }
        .await;
        let mut pubsub = match subscribed {
            Ok(pubsub) => pubsub,
            Err(e) => {
                up.store(false, Ordering::Relaxed);
                tracing::warn!(error = %e, "Redis bus: cannot subscribe");
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
                continue;
            }
        };
        attempt = 0;
        up.store(true, Ordering::Relaxed);
        tracing::info!("Redis bus: subscribed");
        let mut messages = pubsub.on_message();
        while let Some(msg) = messages.next().await {
            let Ok(payload) = msg.get_payload::<String>() else {
                continue;
            };
            deliver(&hub, &node, &payload);
        }
        drop(messages);
        up.store(false, Ordering::Relaxed);
        tracing::warn!("Redis bus: subscription lost; reconnecting");
    }
}

/// Delivers another node's event to this node's subscribers.
fn deliver(hub: &Hub, own_node: &str, envelope: &str) {
    let mut parts = envelope.splitn(5, '\n');
    let (Some(node), Some(kind), Some(room), Some(sender), Some(json)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return;
    };
    if node == own_node {
        return;
    }
    let frame = text_frame(json.to_owned());
    match kind {
        "chat" => hub.broadcast(room, &frame, Importance::Essential),
        "typing" => hub.broadcast_from(room, sender, &frame, Importance::Droppable),
        _ => {}
    }
}
