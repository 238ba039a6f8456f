//! Room membership and fan-out on this node.
//!
//! The room map is behind a read-write lock that joins and leaves take for writing and
//! broadcasts for reading; each room has its own mutex, so broadcasts to different rooms do
//! not wait on each other. A broadcast hands the same encoded bytes to every subscriber's
//! bounded queue and never waits: a subscriber whose queue is full loses droppable frames
//! (typing, presence) first, and is closed with 1013 when even a chat frame does not fit,
//! so that it reconnects and catches up from history.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::metrics::WsMetrics;
use super::transport::{Live, NotQueued, Outbox};

use super::registry::{Conn, Registry};
pub use super::registry::{ConnCaps, ConnId, TooMany};

/// How much a frame matters to its receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Importance {
    /// Chat messages, acks, errors: never dropped; a reader that cannot take one is closed.
    Essential,
    /// Typing and presence events: dropped first when a reader falls behind.
    Droppable,
}

struct Member {
    username: Arc<str>,
    outbox: Outbox,
}

#[derive(Default)]
struct Room {
    members: HashMap<ConnId, Member>,
    /// Connections per user in this room: presence is per user, not per connection.
    users: HashMap<Arc<str>, usize>,
}

/// What joining a room tells the joiner.
#[derive(Debug, Default)]
pub struct Joined {
    /// The users online in the room on this node, sorted.
    pub users: Vec<String>,
    /// Whether this is the user's first connection in the room on this node.
    pub first: bool,
}

/// How long an ended session is remembered: longer than any access token lives.
const ENDED_SESSION_MEMORY: Duration = Duration::from_secs(24 * 3600);

pub struct Hub {
    rooms: RwLock<HashMap<String, Arc<Mutex<Room>>>>,
    /// Every open connection, joined to a room or not (for shutdown).
    conns: Mutex<Registry>,
    caps: ConnCaps,
    /// Sessions ended lately, with when: their access tokens open no new socket here.
    ended_sessions: Mutex<HashMap<Arc<str>, Instant>>,
    next_id: AtomicU64,
    /// Evictions begun on this node (see [`Hub::evictions`]).
    evictions: AtomicU64,
    metrics: WsMetrics,
    /// The sockets' writer tasks (shutdown waits for their close frames).
    pub sockets: Arc<Live>,
}

/// Delivers one frame to one member, following the slow-reader policy.
fn deliver(member: &Member, frame: &Bytes, importance: Importance, metrics: &WsMetrics) -> bool {
    match importance {
        Importance::Droppable if member.outbox.free() < member.outbox.capacity() / 4 => {
            metrics.dropped.inc();
            false
        }
        Importance::Droppable => member.outbox.send_droppable(frame.clone()).is_ok(),
        Importance::Essential => match member.outbox.send_or_close(frame.clone()) {
            Ok(()) => true,
            Err(NotQueued::Full) => {
                metrics.slow_closed.inc();
                false
            }
            Err(NotQueued::Closed) => false,
        },
    }
}

impl Hub {
    pub fn new(metrics: WsMetrics, caps: ConnCaps) -> Self {
        Self {
            rooms: RwLock::new(HashMap::new()),
            conns: Mutex::new(Registry::default()),
            caps,
            ended_sessions: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            evictions: AtomicU64::new(0),
            metrics,
            sockets: Arc::new(Live::default()),
        }
    }

    /// Registers a new connection of `user`, opened in `session` from `address`, and
    /// returns its id; refused when the user or the address holds its cap of connections
    /// already. A session that ended lately gets its connection closed at once (4401):
    /// registered first and checked after, so an ending that races it either sees the
    /// connection or is seen here.
    pub fn connect(
        &self,
        user: &Arc<str>,
        session: Option<&str>,
        address: Option<IpAddr>,
        outbox: &Outbox,
    ) -> Result<ConnId, TooMany> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Conn {
            user: user.clone(),
            session: session.map(Arc::from),
            address,
            outbox: outbox.clone(),
        };
        match self.conns.lock() {
            Ok(mut conns) => conns.insert(id, conn, self.caps)?,
            Err(_) => return Err(TooMany::User),
        }
        self.metrics.connections.inc();
        let ended = session.is_some_and(|s| {
            self.ended_sessions
                .lock()
                .is_ok_and(|ended| ended.contains_key(s))
        });
        if ended {
            outbox.close_after_queue(crate::ws::CLOSE_UNAUTHORIZED);
        }
        Ok(id)
    }

    /// Closes every connection opened in `session` on this node, and remembers the session
    /// for as long as its access tokens live, so they open no new one.
    pub fn close_session(&self, session: &str, code: u16) -> usize {
        if let Ok(mut ended) = self.ended_sessions.lock() {
            let now = Instant::now();
            ended.retain(|_, at| now.duration_since(*at) < ENDED_SESSION_MEMORY);
            ended.insert(Arc::from(session), now);
        }
        let Ok(conns) = self.conns.lock() else {
            return 0;
        };
        let mut closed = 0;
        for conn in conns.values() {
            if conn.session.as_deref() == Some(session) {
                conn.outbox.close_after_queue(code);
                closed += 1;
            }
        }
        closed
    }

    /// Forgets a connection: leaves its rooms and unregisters it. Returns the rooms where
    /// this was the user's last connection on this node, with the user.
    pub fn disconnect(
        &self,
        conn: ConnId,
        rooms: impl IntoIterator<Item = String>,
    ) -> Vec<(String, Arc<str>)> {
        let gone = rooms
            .into_iter()
            .filter_map(|room| self.leave(&room, conn).map(|user| (room, user)))
            .collect();
        if let Ok(mut conns) = self.conns.lock()
            && conns.remove(conn).is_some()
        {
            self.metrics.connections.dec();
        }
        gone
    }

    /// Whether anyone on this node is in the room.
    pub fn has_room(&self, name: &str) -> bool {
        self.room(name).is_some()
    }

    fn room(&self, name: &str) -> Option<Arc<Mutex<Room>>> {
        self.rooms.read().ok()?.get(name).cloned()
    }

    /// Adds a connection to a room. Returns the users online there on this node, and
    /// whether this is the user's first connection in the room here (the bus then decides
    /// whether, and where, to announce the join).
    pub fn join(
        &self,
        room_name: &str,
        conn: ConnId,
        username: &Arc<str>,
        outbox: &Outbox,
    ) -> Joined {
        let Ok(mut rooms) = self.rooms.write() else {
            return Joined::default();
        };
        let room = rooms.entry(room_name.to_owned()).or_default().clone();
        let Ok(mut room) = room.lock() else {
            return Joined::default();
        };
        drop(rooms);
        let mut first = false;
        if let std::collections::hash_map::Entry::Vacant(slot) = room.members.entry(conn) {
            slot.insert(Member {
                username: username.clone(),
                outbox: outbox.clone(),
            });
            let count = room.users.entry(username.clone()).or_insert(0);
            *count += 1;
            first = *count == 1;
        }
        let mut users: Vec<String> = room.users.keys().map(|u| u.to_string()).collect();
        users.sort();
        Joined { users, first }
    }

    /// Removes a connection from a room. Returns the user when this was their last
    /// connection in the room on this node (the bus then announces the leave).
    pub fn leave(&self, room_name: &str, conn: ConnId) -> Option<Arc<str>> {
        let mut rooms = self.rooms.write().ok()?;
        let room_arc = rooms.get(room_name).cloned()?;
        let mut room = room_arc.lock().ok()?;
        let member = room.members.remove(&conn)?;
        let gone = match room.users.get_mut(&member.username) {
            Some(count) if *count > 1 => {
                *count -= 1;
                false
            }
            _ => {
                room.users.remove(&member.username);
                true
            }
        };
        if room.members.is_empty() {
            drop(room);
            rooms.remove(room_name);
        }
        gone.then_some(member.username)
    }

    /// How many evictions this node has begun: a `join` that sees it change while it
    /// checks the membership checks again.
    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::SeqCst)
    }

    pub fn metrics(&self) -> &WsMetrics {
        &self.metrics
    }

    /// Tells the room's other users that `user` came (`join`) or went (`leave`).
    pub fn announce(&self, kind: &str, room_name: &str, user: &str) {
        let frame = super::frames::presence_news(kind, room_name, user);
        self.broadcast_from(room_name, user, &frame, Importance::Droppable);
    }

    /// Every (room, user) online on this node, for refreshing shared presence.
    pub fn presence(&self) -> Vec<(String, Arc<str>)> {
        let Ok(rooms) = self.rooms.read() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, room) in rooms.iter() {
            if let Ok(room) = room.lock() {
                out.extend(room.users.keys().map(|u| (name.clone(), u.clone())));
            }
        }
        out
    }

    /// Sends a frame to every connection in the room.
    pub fn broadcast(&self, room_name: &str, frame: &Bytes, importance: Importance) {
        let Some(room) = self.room(room_name) else {
            return;
        };
        let Ok(room) = room.lock() else { return };
        let mut delivered = 0u64;
        for member in room.members.values() {
            if deliver(member, frame, importance, &self.metrics) {
                delivered += 1;
            }
        }
        self.metrics.deliveries.inc_by(delivered);
    }

    /// Sends a frame to everyone in the room but `sender`'s own connections.
    pub fn broadcast_from(
        &self,
        room_name: &str,
        sender: &str,
        frame: &Bytes,
        importance: Importance,
    ) {
        let Some(room) = self.room(room_name) else {
            return;
        };
        let Ok(room) = room.lock() else { return };
        self.to_others(&room, sender, frame, importance);
    }

    fn to_others(&self, room: &Room, sender: &str, frame: &Bytes, importance: Importance) {
        let mut delivered = 0u64;
        for member in room.members.values() {
            if &*member.username != sender && deliver(member, frame, importance, &self.metrics) {
                delivered += 1;
            }
        }
        self.metrics.deliveries.inc_by(delivered);
    }

    /// The users online in a room, each once, sorted.
    pub fn users(&self, room_name: &str) -> Vec<String> {
        let Some(room) = self.room(room_name) else {
            return Vec::new();
        };
        let Ok(room) = room.lock() else {
            return Vec::new();
        };
        let mut users: Vec<String> = room.users.keys().map(|u| u.to_string()).collect();
        users.sort();
        users
    }

    /// Closes every connection once what is queued for it is written (1012 on shutdown:
    /// clients reconnect at once).
    pub fn close_all(&self, code: u16) {
        let Ok(conns) = self.conns.lock() else { return };
        for conn in conns.values() {
            conn.outbox.close_after_queue(code);
        }
    }

    /// Closes every connection of `user` on this node (their account was deactivated).
    pub fn close_user(&self, user: &str, code: u16) -> usize {
        let Ok(conns) = self.conns.lock() else {
            return 0;
        };
        let mut closed = 0;
        for conn in conns.values() {
            if &*conn.user == user {
                conn.outbox.close_after_queue(code);
                closed += 1;
            }
        }
        closed
    }

    /// Ends every subscription of `user` to the room on this node (they are no longer a
    /// member). Returns the user when they had one, so their departure is announced.
    pub fn evict(&self, room_name: &str, user: &str) -> Option<Arc<str>> {
        // Counted before the room is looked at: a join that reads the count after its
        // subscription either sees this eviction or is seen by it.
        self.evictions.fetch_add(1, Ordering::SeqCst);
        let mut rooms = self.rooms.write().ok()?;
        let room_arc = rooms.get(room_name).cloned()?;
        let mut room = room_arc.lock().ok()?;
        let before = room.members.len();
        room.members.retain(|_, m| &*m.username != user);
        if room.members.len() == before {
            return None;
        }
        let gone = room.users.remove_entry(user).map(|(name, _)| name);
        if room.members.is_empty() {
            drop(room);
            rooms.remove(room_name);
        }
        gone
    }
}
