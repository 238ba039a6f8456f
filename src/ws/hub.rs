//! Room membership and fan-out on this node.
//!
//! The room map is behind a read-write lock that joins and leaves take for writing and
//! broadcasts for reading; each room has its own mutex, so broadcasts to different rooms do
//! not wait on each other. A broadcast hands the same encoded bytes to every subscriber's
//! bounded queue and never waits: a subscriber whose queue is full loses droppable frames
//! (typing, presence) first, and is closed with 1013 when even a chat frame does not fit,
//! so that it reconnects and catches up from history.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;

use super::metrics::WsMetrics;
use super::socket::{NotQueued, Outbox};

pub type ConnId = u64;

/// Close code for a reader too slow to keep up ("try again later").
pub const CLOSE_TOO_SLOW: u16 = 1013;

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

pub struct Hub {
    rooms: RwLock<HashMap<String, Arc<Mutex<Room>>>>,
    /// Every open connection, joined to a room or not (for shutdown).
    conns: Mutex<HashMap<ConnId, Outbox>>,
    next_id: AtomicU64,
    metrics: WsMetrics,
}

/// Delivers one frame to one member, following the slow-reader policy.
fn deliver(member: &Member, frame: &Bytes, importance: Importance, metrics: &WsMetrics) -> bool {
    match importance {
        Importance::Droppable if member.outbox.free() < member.outbox.capacity() / 4 => {
            metrics.dropped.inc();
            false
        }
        _ => match member.outbox.send(frame.clone()) {
            Ok(()) => true,
            Err(NotQueued::Full) if importance == Importance::Essential => {
                metrics.slow_closed.inc();
                member.outbox.close(CLOSE_TOO_SLOW);
                false
            }
            Err(_) => false,
        },
    }
}

impl Hub {
    pub fn new(metrics: WsMetrics) -> Self {
        Self {
            rooms: RwLock::new(HashMap::new()),
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            metrics,
        }
    }

    /// Registers a new connection and returns its id.
    pub fn connect(&self, outbox: &Outbox) -> ConnId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut conns) = self.conns.lock() {
            conns.insert(id, outbox.clone());
        }
        self.metrics.connections.inc();
        id
    }

    /// Forgets a connection: leaves its rooms (telling the others) and unregisters it.
    pub fn disconnect(&self, conn: ConnId, rooms: impl IntoIterator<Item = String>) {
        for room in rooms {
            self.leave(&room, conn);
        }
        if let Ok(mut conns) = self.conns.lock() {
            conns.remove(&conn);
        }
        self.metrics.connections.dec();
    }

    fn room(&self, name: &str) -> Option<Arc<Mutex<Room>>> {
        self.rooms.read().ok()?.get(name).cloned()
    }

    /// Adds a connection to a room. Returns the users now online there, and tells the
    /// others when this is the user's first connection in the room.
    pub fn join(
        &self,
        room_name: &str,
        conn: ConnId,
        username: &Arc<str>,
        outbox: &Outbox,
    ) -> Vec<String> {
        let Ok(mut rooms) = self.rooms.write() else {
            return Vec::new();
        };
        let room = rooms.entry(room_name.to_owned()).or_default().clone();
        let Ok(mut room) = room.lock() else {
            return Vec::new();
        };
        if let std::collections::hash_map::Entry::Vacant(slot) = room.members.entry(conn) {
            slot.insert(Member {
                username: username.clone(),
                outbox: outbox.clone(),
            });
            let count = room.users.entry(username.clone()).or_insert(0);
            *count += 1;
            if *count == 1 {
                let frame = super::frames::event("join", room_name, username);
                self.to_others(&room, username, &frame, Importance::Droppable);
            }
        }
        drop(rooms);
        let mut users: Vec<String> = room.users.keys().map(|u| u.to_string()).collect();
        users.sort();
        users
    }

    /// Removes a connection from a room; tells the others when it was the user's last.
    pub fn leave(&self, room_name: &str, conn: ConnId) {
        let Ok(mut rooms) = self.rooms.write() else {
            return;
        };
        let Some(room_arc) = rooms.get(room_name).cloned() else {
            return;
        };
        let Ok(mut room) = room_arc.lock() else {
            return;
        };
        let Some(member) = room.members.remove(&conn) else {
            return;
        };
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
        if gone {
            let frame = super::frames::event("leave", room_name, &member.username);
            self.to_others(&room, &member.username, &frame, Importance::Droppable);
        }
        if room.members.is_empty() {
            drop(room);
            rooms.remove(room_name);
        }
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

    /// Closes every connection (1012 on shutdown: clients reconnect at once).
    pub fn close_all(&self, code: u16) {
        let Ok(conns) = self.conns.lock() else { return };
        for outbox in conns.values() {
            outbox.close(code);
        }
    }
}
