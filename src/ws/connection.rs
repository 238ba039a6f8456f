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

use super::bus::Bus;
use super::frames::{self, ClientFrame, ErrorCode};
use super::hub::{ConnId, Hub};
use super::persister::{SaveJob, SaveLanes};
use super::socket::{Inbound, Outbox, encode};
use crate::domain::{ClientId, Draft, MAX_CONTENT_CHARS, MessageContent, MessageStore, RoomName};

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
    pub store: Arc<dyn MessageStore>,
    pub jobs: SaveLanes,
    pub limits: ConnLimits,
}

/// Leaves every room and unregisters the connection when the task ends, however it ends.
struct Membership {
    hub: Arc<Hub>,
    bus: Arc<dyn Bus>,
    id: ConnId,
    rooms: HashSet<String>,
}

impl Drop for Membership {
    fn drop(&mut self) {
        for (room, user) in self.hub.disconnect(self.id, self.rooms.drain()) {
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
                    match frame {
                        Ok(Frame::Text(bytes)) => {
                            if limiter.check().is_err() {
                                abuses += 1;
                                if abuses > self.limits.abuse_limit {
                                    self.outbox.close(1008);
                                    break;
                                }
                                self.reply(frames::error(ErrorCode::RateLimited, "slow down", None));
                                continue;
                            }
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

    async fn on_text(&self, bytes: Bytes, rooms: &mut HashSet<String>) {
        if bytes.len() > self.limits.max_text_bytes {
            self.reply(frames::error(
                ErrorCode::TooLarge,
                &format!("frames may be at most {} bytes", self.limits.max_text_bytes),
                None,
            ));
            return;
        }
        let frame: ClientFrame = match serde_json::from_slice(&bytes) {
            Ok(frame) => frame,
            Err(e) => {
                self.reply(frames::error(
                    ErrorCode::BadRequest,
                    &format!("not a valid frame: {e}"),
                    None,
                ));
                return;
            }
        };
        match frame {
            ClientFrame::Join { room } => self.join(room, rooms).await,
            ClientFrame::Leave { room } => {
                if rooms.remove(&room)
                    && let Some(user) = self.hub.leave(&room, self.id)
                {
                    self.bus.left(&room, &user);
                }
            }
            ClientFrame::Typing { room } => {
                if rooms.contains(&room) {
                    self.bus.publish_typing(&room, &self.username);
                } else {
                    self.reply(frames::error(
                        ErrorCode::Forbidden,
                        "join the room first",
                        None,
                    ));
                }
            }
            ClientFrame::Chat {
                room,
                content,
                client_id,
            } => self.chat(room, content, client_id).await,
        }
    }

    async fn join(&self, room: String, rooms: &mut HashSet<String>) {
        if let Err(e) = RoomName::parse(&room) {
            self.reply(frames::error(ErrorCode::BadRequest, &e.to_string(), None));
            return;
        }
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
        match self.store.room_exists(&room).await {
            Ok(true) => {}
            Ok(false) => {
                self.reply(frames::error(
                    ErrorCode::NotFound,
                    &format!("no room named {room:?}"),
                    None,
                ));
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot check a room");
                self.reply(frames::error(
                    ErrorCode::NotFound,
                    "rooms cannot be checked right now",
                    None,
                ));
                return;
            }
        }
        let joined = self.hub.join(&room, self.id, &self.username, &self.outbox);
        rooms.insert(room.clone());
        if joined.first {
            self.bus.joined(&room, &self.username);
        }
        let users = match self.bus.online(&room) {
            Some(everywhere) => merge_users(joined.users, everywhere).await,
            None => joined.users,
        };
        self.reply(frames::online_users(&room, &users));
    }

    async fn chat(&self, room: String, content: String, client_id: Option<String>) {
        let cid = client_id.as_deref();
        if let Some(raw) = cid
            && let Err(e) = ClientId::parse(raw)
        {
            self.reply(frames::error(ErrorCode::BadRequest, &e.to_string(), None));
            return;
        }
        if let Err(e) = RoomName::parse(&room) {
            self.reply(frames::error(ErrorCode::BadRequest, &e.to_string(), cid));
            return;
        }
        let content = match MessageContent::parse(&content) {
            Ok(content) => content,
            Err(e) => {
                let code = if content.trim().chars().count() > MAX_CONTENT_CHARS {
                    ErrorCode::TooLarge
                } else {
                    ErrorCode::BadRequest
                };
                self.reply(frames::error(code, &e.to_string(), cid));
                return;
            }
        };
        let lane = self.jobs.for_room(&room);
        let job = SaveJob {
            draft: Draft {
                room,
                sender_id: self.user_id,
                sender: self.username.to_string(),
                content: content.into_string(),
                client_id,
            },
            outbox: self.outbox.clone(),
        };
        // Waits when the persister is behind: back-pressure on this sender only.
        if let Err(mpsc::error::SendError(job)) = lane.send(job).await {
            self.reply(frames::error(
                ErrorCode::NotSaved,
                "the server is shutting down",
                job.draft.client_id.as_deref(),
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
