//! One WebSocket connection: reads client frames, answers them, keeps the heartbeat, and
//! leaves every room however it ends.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_http::ws::{Frame, Message, ProtocolError};
use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::mpsc;

use super::drain::Drain;
use super::lanes::{SaveJob, SaveLanes};
use super::protocol::{self, Command};
use crate::domain::services::{Admission, EventStore};
use crate::domain::{Change, ClientId, Draft, RoomName};
use crate::ws::bus::Bus;
use crate::ws::frames::{self, ErrorCode};
use crate::ws::hub::{ConnId, Hub};
use crate::ws::transport::{Inbound, Outbox, encode};

/// Per-connection limits (`[ws]` settings).
#[derive(Debug, Clone)]
pub struct ConnLimits {
    pub max_text_bytes: usize,
    pub frames_per_second: u32,
    pub burst: u32,
    pub heartbeat: Duration,
    pub client_timeout: Duration,
    pub max_rooms: usize,
    /// Errors for too-fast frames tolerated per heartbeat interval before closing (1008).
    pub abuse_limit: u32,
}

pub struct Connection {
    pub id: ConnId,
    pub user_id: i64,
    pub username: Arc<str>,
    pub outbox: Outbox,
    pub hub: Arc<Hub>,
    pub bus: Arc<dyn Bus>,
    pub store: Arc<dyn EventStore>,
    pub jobs: SaveLanes,
    pub drain: Arc<Drain>,
    pub limits: ConnLimits,
    /// When this connection's last `typing` was passed on, per room.
    pub typed: std::cell::RefCell<std::collections::HashMap<RoomName, Instant>>,
}

/// The shortest time between two `typing` frames of one connection in one room that are
/// both passed on to the room.
pub const TYPING_INTERVAL: Duration = Duration::from_secs(1);

/// Leaves every room and unregisters the connection when the task ends, however it ends.
struct Membership {
    hub: Arc<Hub>,
    bus: Arc<dyn Bus>,
    id: ConnId,
    rooms: HashSet<RoomName>,
}

impl Drop for Membership {
    fn drop(&mut self) {
        let rooms = self.rooms.drain().map(String::from);
        for (room, user) in self.hub.disconnect(self.id, rooms) {
            self.bus.left(&room, &user);
        }
    }
}

impl Connection {
    pub async fn run(self, mut inbound: Inbound) {
        let mut membership = Membership {
            hub: self.hub.clone(),
            bus: self.bus.clone(),
            id: self.id,
            rooms: HashSet::new(),
        };
        let quota = Quota::per_second(
            NonZeroU32::new(self.limits.frames_per_second).unwrap_or(NonZeroU32::MIN),
        )
        .allow_burst(NonZeroU32::new(self.limits.burst).unwrap_or(NonZeroU32::MIN));
        let limiter: DefaultDirectRateLimiter = RateLimiter::direct(quota);
        let mut abuses = 0u32;
        let mut last_heard = Instant::now();
        let mut heartbeat = actix_web::rt::time::interval(self.limits.heartbeat);
        heartbeat.tick().await;

        loop {
            tokio::select! {
                frame = inbound.next() => {
                    let Some(frame) = frame else { break };
                    last_heard = Instant::now();
                    // Every frame a client sends counts, binary and pings too: none is free
                    // to flood with. (A close is not limited: it ends the connection.)
                    if !matches!(frame, Ok(Frame::Close(_)) | Err(_)) && limiter.check().is_err() {
                        abuses += 1;
                        if abuses > self.limits.abuse_limit {
                            self.outbox.close(crate::ws::CLOSE_POLICY);
                            break;
                        }
                        if let Ok(Frame::Text(bytes)) = &frame {
                            let cid = protocol::client_id_of(bytes);
                            self.reply(frames::error(ErrorCode::RateLimited, "slow down", cid.as_deref()));
                        }
                        continue;
                    }
                    match frame {
                        Ok(Frame::Text(bytes)) => {
                            self.on_text(bytes, &mut membership.rooms).await;
                        }
                        Ok(Frame::Binary(_)) => {
                            self.reply(frames::error(ErrorCode::BadRequest, "frames must be JSON text", None));
                        }
                        Ok(Frame::Ping(payload)) => {
                            let _ = self.outbox.send(encode(Message::Pong(payload)));
                        }
                        Ok(Frame::Pong(_)) => {}
                        Ok(Frame::Close(_)) => {
                            self.outbox.close(1000);
                            break;
                        }
                        Ok(Frame::Continuation(_)) => {
                            self.outbox.close(1003);
                            break;
                        }
                        Err(ProtocolError::Overflow) => {
                            self.outbox.close(1009);
                            break;
                        }
                        Err(_) => {
                            self.outbox.close(1002);
                            break;
                        }
                    }
                }
                _ = heartbeat.tick() => {
                    abuses = 0;
                    if last_heard.elapsed() > self.limits.client_timeout {
                        tracing::debug!(conn = self.id, "no answer to pings; closing");
                        self.outbox.close(1001);
                        break;
                    }
                    let _ = self.outbox.send(encode(Message::Ping(Bytes::new())));
                }
                _ = self.outbox.closing() => break,
            }
        }
    }

    /// Replies to this connection only. A reply that does not fit means the client is not
    /// reading; the hub's policy for it applies at the next broadcast.
    fn reply(&self, frame: Bytes) {
        let _ = self.outbox.send(frame);
    }

    async fn on_text(&self, bytes: Bytes, rooms: &mut HashSet<RoomName>) {
        if bytes.len() > self.limits.max_text_bytes {
            let cid = protocol::client_id_of(&bytes);
            self.reply(frames::error(
                ErrorCode::TooLarge,
                &format!("frames may be at most {} bytes", self.limits.max_text_bytes),
                cid.as_deref(),
            ));
            return;
        }
        let command = match protocol::parse(&bytes) {
            Ok(command) => command,
            Err(refused) => {
                let frame =
                    frames::error(refused.code, &refused.message, refused.client_id.as_deref());
                if refused.client_id.is_some() {
                    // It answers a write: the client must hear it.
                    let _ = self.outbox.send_or_close(frame);
                } else {
                    self.reply(frame);
                }
                return;
            }
        };
        match command {
            Command::Join(room) => self.join(room, rooms).await,
            Command::Leave(room) => {
                if rooms.remove(&room)
                    && let Some(user) = self.hub.leave(room.as_str(), self.id)
                {
                    self.bus.left(room.as_str(), &user);
                }
            }
            Command::Typing(room) => {
                if rooms.contains(&room) {
                    // At most one a room per interval is passed on: a client that floods
                    // typing multiplies nothing.
                    let now = Instant::now();
                    let mut typed = self.typed.borrow_mut();
                    let due = typed
                        .get(&room)
                        .is_none_or(|last| now.duration_since(*last) >= TYPING_INTERVAL);
                    if due {
                        typed.insert(room.clone(), now);
                        drop(typed);
                        self.bus.publish_typing(room.as_str(), &self.username);
                    }
                } else {
                    self.reply(frames::error(
                        ErrorCode::Forbidden,
                        "join the room first",
                        None,
                    ));
                }
            }
            Command::Chat {
                room,
                content,
                client_id,
            } => self.write(room, client_id, Change::Chat { content }).await,
            Command::Delete {
                room,
                id,
                client_id,
            } => self.write(room, client_id, Change::Delete { id }).await,
        }
    }

    async fn join(&self, room: RoomName, rooms: &mut HashSet<RoomName>) {
        if !rooms.contains(&room) && rooms.len() >= self.limits.max_rooms {
            self.reply(frames::error(
                ErrorCode::Forbidden,
                &format!(
                    "a connection may join at most {} rooms",
                    self.limits.max_rooms
                ),
                None,
            ));
            return;
        }
        // A removal from the room delivered between the check and the subscription finds
        // nothing to evict here; so when any eviction happened on this node meanwhile, the
        // check is made again (evictions are rare: the chat path never pays for this).
        let mut evictions = self.hub.evictions();
        if !self.admit(&room).await {
            return;
        }
        let joined = self
            .hub
            .join(room.as_str(), self.id, &self.username, &self.outbox);
        // Remembered at once: however the connection ends from here, it leaves the room.
        let was_in = !rooms.insert(room.clone());
        while self.hub.evictions() != evictions {
            evictions = self.hub.evictions();
            if !self.admit(&room).await {
                rooms.remove(&room);
                if let Some(user) = self.hub.leave(room.as_str(), self.id)
                    && was_in
                {
                    self.bus.left(room.as_str(), &user);
                }
                return;
            }
        }
        if joined.first {
            self.bus.joined(room.as_str(), &self.username);
        }
        let users = match self.bus.online(room.as_str()) {
            Some(everywhere) => merge_users(joined.users, everywhere).await,
            None => joined.users,
        };
        // The answer to the join: a client that keeps asking and does not read is closed
        // (1013) rather than fed (the queue's byte budget).
        let _ = self
            .outbox
            .send_or_close(frames::online_users(room.as_str(), &users));
    }

    /// Whether the user may subscribe to the room; when not, the client is told why.
    async fn admit(&self, room: &RoomName) -> bool {
        match self.store.join(room, self.user_id, &self.username).await {
            Ok(Admission::Joined) => true,
            Ok(Admission::Refused) => {
                self.reply(frames::error(
                    ErrorCode::Forbidden,
                    "the token names no active account; sign in again",
                    None,
                ));
                false
            }
            Ok(Admission::NoSuchRoom) => {
                self.reply(frames::error(
                    ErrorCode::NotFound,
                    &format!("no room named {:?}", room.as_str()),
                    None,
                ));
                false
            }
            Err(e) => {
                // Not "no such room": the client is to try the join again.
                tracing::warn!(error = %e, "cannot check a room");
                self.reply(frames::error(
                    ErrorCode::Unavailable,
                    "rooms cannot be checked right now; join again shortly",
                    None,
                ));
                false
            }
        }
    }

    /// A change to the room, on its way to be stored, acked and announced.
    async fn write(&self, room: RoomName, client_id: ClientId, change: Change) {
        let Some(ticket) = self.drain.admit() else {
            self.hub.metrics().not_saved.inc();
            let _ = self.outbox.send_or_close(frames::error(
                ErrorCode::NotSaved,
                "the server is restarting; send it again with the same client_id",
                Some(client_id.as_str()),
            ));
            return;
        };
        let lane = self.jobs.for_room(room.as_str());
        let job = SaveJob {
            draft: Draft {
                room,
                sender_id: self.user_id,
                sender: self.username.to_string(),
                client_id,
                change,
            },
            outbox: self.outbox.clone(),
            ticket,
        };
        // Waits when the persister is behind: back-pressure on this sender only.
        if let Err(mpsc::error::SendError(job)) = lane.send(job).await {
            let _ = self.outbox.send_or_close(frames::error(
                ErrorCode::NotSaved,
                "the server is shutting down",
                Some(job.draft.client_id.as_str()),
            ));
        }
    }
}

/// This node's users in a room together with those the bus reports on other nodes; this
/// node's alone when the bus does not answer in time (Redis down).
pub async fn merge_users(
    mut local: Vec<String>,
    everywhere: tokio::sync::oneshot::Receiver<Vec<String>>,
) -> Vec<String> {
    if let Ok(Ok(remote)) = tokio::time::timeout(Duration::from_secs(1), everywhere).await {
        local.extend(remote);
        local.sort();
        local.dedup();
    }
    local
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use prometheus::Registry;
    use tokio::sync::Notify;

    use super::*;
    use crate::domain::SaveOutcome;
    use crate::domain::services::Unavailable;
    use crate::ws::bus::LocalBus;
    use crate::ws::metrics::WsMetrics;
    use crate::ws::transport::outbox::testing::recording_outbox_of;

    /// Admits the first `join` only after the test lets it go, and refuses every later one:
    /// the user was removed from the room while their first check was on its way.
    struct RemovedDuringCheck {
        checks: AtomicU32,
        checking: Notify,
        proceed: Notify,
    }

    #[async_trait::async_trait(?Send)]
    impl EventStore for RemovedDuringCheck {
        async fn save(&self, _: Vec<Draft>) -> Result<Vec<SaveOutcome>, Unavailable> {
            Err(Unavailable("not in this test".into()))
        }

        async fn join(&self, _: &RoomName, _: i64, _: &str) -> Result<Admission, Unavailable> {
            if self.checks.fetch_add(1, Ordering::SeqCst) > 0 {
                return Ok(Admission::NoSuchRoom);
            }
            self.checking.notify_one();
            self.proceed.notified().await;
            Ok(Admission::Joined)
        }
    }

    #[actix_web::test]
    async fn a_removal_while_the_membership_is_checked_leaves_no_subscription() {
        let hub = Arc::new(Hub::new(
            WsMetrics::new(&Registry::new()).expect("metrics"),
            crate::ws::ConnCaps::default(),
        ));
        let store = Arc::new(RemovedDuringCheck {
            checks: AtomicU32::new(0),
            checking: Notify::new(),
            proceed: Notify::new(),
        });
        let (outbox, sent) = recording_outbox_of(16);
        let username: Arc<str> = Arc::from("bob");
        let conn = Connection {
            id: hub
                .connect(&username, None, None, &outbox)
                .expect("a connection"),
            user_id: 2,
            username,
            outbox,
            hub: hub.clone(),
            bus: Arc::new(LocalBus::new(hub.clone())),
            store: store.clone(),
            jobs: SaveLanes::new(1, 1).0,
            drain: Arc::new(Drain::default()),
            limits: ConnLimits {
                max_text_bytes: 1024,
                frames_per_second: 10,
                burst: 10,
                heartbeat: Duration::from_secs(5),
                client_timeout: Duration::from_secs(10),
                max_rooms: 4,
                abuse_limit: 3,
            },
            typed: Default::default(),
        };
        let room = RoomName::parse("secret").expect("room name");
        let mut rooms = HashSet::new();
        let join = conn.join(room, &mut rooms);
        let remove = async {
            store.checking.notified().await;
            // The removal is delivered here while bob's check is on its way: nothing to evict.
            assert_eq!(hub.evict("secret", "bob"), None);
            store.proceed.notify_one();
        };
        tokio::join!(join, remove);

        assert!(!hub.has_room("secret"), "bob must not stay subscribed");
        assert!(rooms.is_empty());
        assert_eq!(
            store.checks.load(Ordering::SeqCst),
            2,
            "checked again after the eviction"
        );
        let frames = sent();
        let last = String::from_utf8_lossy(frames.last().expect("an answer"));
        assert!(last.contains("not_found"), "{last}");
    }
}
