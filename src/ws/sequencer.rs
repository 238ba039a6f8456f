//! Per-room order across nodes. One node's own messages leave its persister in `seq`
//! order, but with several nodes a message stored elsewhere can arrive over Redis after a
//! later one stored here. The sequencer holds a message whose predecessor has not been
//! seen yet, for at most [`ORDER_WAIT`], and delivers in `seq` order; a predecessor that
//! never comes (Redis dropped it) leaves a gap the clients fill from history by `seq`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::hub::{Hub, Importance};

/// The longest a message waits for its predecessor before it is delivered anyway.
pub const ORDER_WAIT: Duration = Duration::from_millis(100);
/// A room with nothing held and nothing seen for this long is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(60);

struct RoomOrder {
    /// The `seq` expected next; 0 while unknown (the room's first message seen here, unless
    /// it is seq 1, waits [`ORDER_WAIT`] for any earlier one still on its way).
    next: u64,
    /// Messages that arrived ahead of `next`, with when each arrived.
    held: BTreeMap<u64, (Bytes, Instant)>,
    /// When the oldest held message arrived.
    holding_since: Option<Instant>,
    last_seen: Instant,
}

pub struct Sequencer {
    hub: Arc<Hub>,
    rooms: Mutex<HashMap<String, RoomOrder>>,
}

impl Sequencer {
    pub fn new(hub: Arc<Hub>) -> Self {
        Self {
            hub,
            rooms: Mutex::new(HashMap::new()),
        }
    }

    /// A stored chat message, from this node or another: delivered now if it is the next
    /// in its room (with any held successors), held otherwise.
    pub fn offer(&self, room: &str, seq: u64, frame: Bytes) {
        let Ok(mut rooms) = self.rooms.lock() else {
            return;
        };
        let now = Instant::now();
        // The room's name is copied only the first time (this runs for every message).
        if !rooms.contains_key(room) {
            rooms.insert(
                room.to_owned(),
                RoomOrder {
                    next: if seq == 1 { 1 } else { 0 },
                    held: BTreeMap::new(),
                    holding_since: None,
                    last_seen: now,
                },
            );
        }
        let Some(order) = rooms.get_mut(room) else {
            // Inserted just above; were it not, the message still goes out.
            self.hub.broadcast(room, &frame, Importance::Essential);
            return;
        };
        order.last_seen = now;
        if order.next == 0 || seq > order.next {
            order.held.insert(seq, (frame, now));
            order.holding_since.get_or_insert(now);
            return;
        }
        if seq < order.next {
            // Late (it waited out its turn) or the first seen after a restart: deliver;
            // clients drop what they already have by id.
            self.hub.broadcast(room, &frame, Importance::Essential);
            return;
        }
        self.hub.broadcast(room, &frame, Importance::Essential);
        order.next = seq + 1;
        while let Some((frame, _)) = order.held.remove(&order.next) {
            self.hub.broadcast(room, &frame, Importance::Essential);
            order.next += 1;
        }
        // What still waits has waited since it arrived, not since now.
        order.holding_since = order.held.values().map(|(_, at)| *at).min();
    }

    /// Delivers what has waited [`ORDER_WAIT`] for a predecessor, in order, and forgets
    /// idle rooms. Called every few milliseconds with the current time.
    pub fn flush_overdue(&self, now: Instant) {
        let Ok(mut rooms) = self.rooms.lock() else {
            return;
        };
        for (room, order) in rooms.iter_mut() {
            if order
                .holding_since
                .is_some_and(|since| now.duration_since(since) >= ORDER_WAIT)
            {
                for (seq, (frame, _)) in std::mem::take(&mut order.held) {
                    self.hub.broadcast(room, &frame, Importance::Essential);
                    order.next = seq + 1;
                }
                order.holding_since = None;
            }
        }
        // A room is remembered while this node has subscribers in it.
        rooms.retain(|room, order| {
            !order.held.is_empty()
                || now.duration_since(order.last_seen) < FORGET_AFTER
                || self.hub.has_room(room)
        });
    }

    /// Delivers everything held and forgets every room (the bus lost Redis: other nodes'
    /// messages will not arrive, so nothing is worth waiting for).
    pub fn release_all(&self) {
        let Ok(mut rooms) = self.rooms.lock() else {
            return;
        };
        for (room, order) in rooms.drain() {
            for (frame, _) in order.held.into_values() {
                self.hub.broadcast(&room, &frame, Importance::Essential);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::WsMetrics;
    use crate::ws::socket::testing::recording_outbox;

    fn texts(frames: &[Bytes]) -> Vec<u8> {
        frames.iter().map(|f| f[f.len() - 1]).collect()
    }

    fn frame(tag: u8) -> Bytes {
        Bytes::from(vec![0x81, 1, tag])
    }

    /// A sequencer over a hub with one connection in room `r`, and what it was sent.
    fn one_listener() -> (Sequencer, impl Fn() -> Vec<Bytes>) {
        let hub = Arc::new(Hub::new(
            WsMetrics::new(&prometheus::Registry::new()).expect("metrics"),
        ));
        let (outbox, sent) = recording_outbox();
        let user: Arc<str> = Arc::from("ann");
        hub.join("r", 1, &user, &outbox);
        (Sequencer::new(hub), sent)
    }

    #[test]
    fn messages_out_of_order_are_delivered_in_seq_order() {
        let (seq, sent) = one_listener();
        seq.offer("r", 1, frame(1));
        seq.offer("r", 3, frame(3));
        seq.offer("r", 4, frame(4));
        assert_eq!(texts(&sent()), vec![1], "3 and 4 wait for 2");
        seq.offer("r", 2, frame(2));
        assert_eq!(texts(&sent()), vec![1, 2, 3, 4]);
        seq.offer("r", 5, frame(5));
        assert_eq!(texts(&sent()), vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn the_first_message_seen_waits_for_earlier_ones() {
        let (seq, sent) = one_listener();
        seq.offer("r", 12, frame(12));
        seq.offer("r", 11, frame(11));
        seq.flush_overdue(Instant::now());
        assert!(sent().is_empty(), "where the room stands is not known yet");
        seq.flush_overdue(Instant::now() + ORDER_WAIT);
        assert_eq!(texts(&sent()), vec![11, 12]);
        seq.offer("r", 13, frame(13));
        assert_eq!(texts(&sent()), vec![11, 12, 13], "then in order at once");
    }

    #[test]
    fn a_missing_predecessor_is_given_up_after_the_wait() {
        let (seq, sent) = one_listener();
        seq.offer("r", 1, frame(1));
        seq.offer("r", 7, frame(7));
        seq.offer("r", 9, frame(9));
        seq.flush_overdue(Instant::now());
        assert_eq!(texts(&sent()), vec![1], "not overdue yet");
        seq.flush_overdue(Instant::now() + ORDER_WAIT);
        assert_eq!(texts(&sent()), vec![1, 7, 9]);
        seq.offer("r", 10, frame(10));
        seq.offer("r", 8, frame(8));
        assert_eq!(
            texts(&sent()),
            vec![1, 7, 9, 10, 8],
            "late ones still arrive"
        );
    }
}
