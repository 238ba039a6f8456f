//! Per-room order and exactly-once delivery on a node.
//!
//! Order: one node's own events leave its persister in `seq` order, but with several nodes
//! an event stored elsewhere can arrive over Redis after a later one stored here. With a
//! `gap_wait`, the sequencer holds an event whose predecessor has not been seen yet, for at
//! most that long, and delivers in `seq` order; a predecessor that never comes (Redis
//! dropped it) leaves a gap the clients fill from the events feed by `seq`.
//!
//! Once: an event can be announced more than once — the persister announces every event a
//! retry finds already stored, because the attempt that stored it may have been cut off
//! before announcing it. The sequencer remembers which seqs it delivered (everything below
//! `next`, except the seqs it skipped over), so a repeat is dropped and an event that was
//! never delivered here is delivered late.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::ws::hub::{Hub, Importance};

/// The longest an event waits for its predecessor before it is delivered anyway (Redis).
pub const ORDER_WAIT: Duration = Duration::from_millis(100);
/// A room with nothing held and nothing seen for this long is forgotten (unless this node
/// has subscribers in it).
const FORGET_AFTER: Duration = Duration::from_secs(60);
/// Skipped ranges remembered per room; beyond, the oldest is forgotten and its seqs count
/// as never delivered (a late one is then delivered: a repeat is safer than a loss).
const MAX_SKIPPED: usize = 64;

struct RoomOrder {
    /// The `seq` expected next; 0 while unknown (with a gap wait, the room's first event
    /// seen here, unless it is seq 1, waits for any earlier one still on its way).
    next: u64,
    /// Seqs below this were never tracked here: one arriving is delivered.
    floor: u64,
    /// Ranges `[start, end)` of seqs below `next` that were skipped, not delivered.
    skipped: BTreeMap<u64, u64>,
    /// Events that arrived ahead of `next`, with when each arrived.
    held: BTreeMap<u64, (Bytes, Instant)>,
    /// When the oldest held event arrived.
    holding_since: Option<Instant>,
    last_seen: Instant,
}

impl RoomOrder {
    fn new(now: Instant) -> Self {
        Self {
            next: 0,
            floor: 0,
            skipped: BTreeMap::new(),
            held: BTreeMap::new(),
            holding_since: None,
            last_seen: now,
        }
    }

    /// Moves `next` to `seq + 1` for a delivered `seq >= next`, remembering any gap.
    fn advance_past(&mut self, seq: u64) {
        if seq > self.next {
            self.skipped.insert(self.next, seq);
            if self.skipped.len() > MAX_SKIPPED
                && let Some((_, end)) = self.skipped.pop_first()
            {
                self.floor = self.floor.max(end);
            }
        }
        self.next = seq + 1;
    }

    /// Whether a `seq < next` was never delivered here (and now is to be): below the
    /// floor, or in a skipped range (which it then leaves).
    fn take_late(&mut self, seq: u64) -> bool {
        if seq < self.floor {
            // Tracked from here on: a repeat of it is dropped, what lies between is not.
            if seq + 1 < self.floor {
                self.skipped.insert(seq + 1, self.floor);
            }
            self.floor = seq;
            return true;
        }
        let Some((&start, &end)) = self.skipped.range(..=seq).next_back() else {
            return false;
        };
        if seq >= end {
            return false;
        }
        self.skipped.remove(&start);
        if start < seq {
            self.skipped.insert(start, seq);
        }
        if seq + 1 < end {
            self.skipped.insert(seq + 1, end);
        }
        true
    }
}

pub struct Sequencer {
    hub: Arc<Hub>,
    rooms: Mutex<HashMap<String, RoomOrder>>,
    /// How long an event waits for a missing predecessor; `None`: not at all (one node,
    /// whose persister hands over each room's events in order).
    gap_wait: Option<Duration>,
    offers: AtomicU64,
}

/// Offers between sweeps of idle rooms when no timer runs (the local bus).
const SWEEP_EVERY: u64 = 4096;

impl Sequencer {
    pub fn new(hub: Arc<Hub>, gap_wait: Option<Duration>) -> Self {
        Self {
            hub,
            rooms: Mutex::new(HashMap::new()),
            gap_wait,
            offers: AtomicU64::new(0),
        }
    }

    fn deliver(&self, room: &str, frame: &Bytes) {
        self.hub.broadcast(room, frame, Importance::Essential);
    }

    /// A stored event, from this node or another: delivered now if it is the next in its
    /// room (with any held successors), held if it is ahead of a gap worth waiting for,
    /// delivered late if it was skipped, dropped if it was delivered already.
    pub fn offer(&self, room: &str, seq: u64, frame: Bytes) {
        self.place(room, seq, frame);
        // Without a gap wait no timer calls `flush_overdue`: idle rooms are forgotten here.
        if self.gap_wait.is_none()
            && self.offers.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1
        {
            self.flush_overdue(Instant::now());
        }
    }

    fn place(&self, room: &str, seq: u64, frame: Bytes) {
        let Ok(mut rooms) = self.rooms.lock() else {
            return;
        };
        let now = Instant::now();
        // The room's name is copied only the first time (this runs for every event).
        if !rooms.contains_key(room) {
            rooms.insert(room.to_owned(), RoomOrder::new(now));
        }
        let Some(order) = rooms.get_mut(room) else {
            // Inserted just above; were it not, the event still goes out.
            self.deliver(room, &frame);
            return;
        };
        order.last_seen = now;
        if order.next == 0 {
            if seq != 1 && self.gap_wait.is_some() {
                order.held.insert(seq, (frame, now));
                order.holding_since.get_or_insert(now);
                return;
            }
            // Tracking starts here: what came before was never delivered by this node.
            order.floor = seq;
            order.next = seq;
        }
        if seq < order.next {
            if order.take_late(seq) {
                self.deliver(room, &frame);
            } else {
                self.hub.metrics().repeats_dropped.inc();
            }
            return;
        }
        if seq > order.next && self.gap_wait.is_some() {
            order.held.insert(seq, (frame, now));
            order.holding_since.get_or_insert(now);
            return;
        }
        self.deliver(room, &frame);
        order.advance_past(seq);
        while let Some((frame, _)) = order.held.remove(&order.next) {
            self.deliver(room, &frame);
            order.next += 1;
        }
        // What still waits has waited since it arrived, not since now.
        order.holding_since = order.held.values().map(|(_, at)| *at).min();
    }

    /// Delivers what has waited out the gap wait for a predecessor, in order, and forgets
    /// idle rooms. Called every few milliseconds with the current time.
    pub fn flush_overdue(&self, now: Instant) {
        let Ok(mut rooms) = self.rooms.lock() else {
            return;
        };
        let wait = self.gap_wait.unwrap_or_default();
        for (room, order) in rooms.iter_mut() {
            if order
                .holding_since
                .is_some_and(|since| now.duration_since(since) >= wait)
            {
                for (seq, (frame, _)) in std::mem::take(&mut order.held) {
                    if order.next == 0 {
                        order.floor = seq;
                        order.next = seq;
                    }
                    self.hub.broadcast(room, &frame, Importance::Essential);
                    order.advance_past(seq);
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
    /// events will not arrive, so nothing is worth waiting for).
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
    use crate::ws::transport::outbox::testing::recording_outbox_of;

    fn texts(frames: &[Bytes]) -> Vec<u8> {
        frames.iter().map(|f| f[f.len() - 1]).collect()
    }

    fn frame(tag: u8) -> Bytes {
        Bytes::from(vec![0x81, 1, tag])
    }

    /// A sequencer over a hub with one connection in room `r`, and what it was sent.
    fn one_listener(gap_wait: Option<Duration>) -> (Sequencer, impl Fn() -> Vec<Bytes>) {
        let hub = Arc::new(Hub::new(
            WsMetrics::new(&prometheus::Registry::new()).expect("metrics"),
            crate::ws::ConnCaps::default(),
        ));
        let (outbox, sent) = recording_outbox_of(1024);
        let user: Arc<str> = Arc::from("ann");
        hub.join("r", 1, &user, &outbox);
        (Sequencer::new(hub, gap_wait), sent)
    }

    #[test]
    fn events_out_of_order_are_delivered_in_seq_order() {
        let (seq, sent) = one_listener(Some(ORDER_WAIT));
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
    fn the_first_event_seen_waits_for_earlier_ones() {
        let (seq, sent) = one_listener(Some(ORDER_WAIT));
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
    fn a_missing_predecessor_is_given_up_after_the_wait_and_delivered_late() {
        let (seq, sent) = one_listener(Some(ORDER_WAIT));
        seq.offer("r", 1, frame(1));
        seq.offer("r", 7, frame(7));
        seq.offer("r", 9, frame(9));
        seq.flush_overdue(Instant::now());
        assert_eq!(texts(&sent()), vec![1], "not overdue yet");
        seq.flush_overdue(Instant::now() + ORDER_WAIT);
        assert_eq!(texts(&sent()), vec![1, 7, 9]);
        seq.offer("r", 10, frame(10));
        seq.offer("r", 8, frame(8));
        seq.offer("r", 2, frame(2));
        assert_eq!(
            texts(&sent()),
            vec![1, 7, 9, 10, 8, 2],
            "late ones still arrive"
        );
        seq.offer("r", 8, frame(8));
        seq.offer("r", 9, frame(9));
        seq.offer("r", 1, frame(1));
        assert_eq!(texts(&sent()), vec![1, 7, 9, 10, 8, 2], "and nothing twice");
    }

    #[test]
    fn one_node_delivers_at_once_and_each_seq_once() {
        let (seq, sent) = one_listener(None);
        seq.offer("r", 5, frame(5));
        assert_eq!(texts(&sent()), vec![5], "no wait for what came before");
        seq.offer("r", 5, frame(5));
        seq.offer("r", 7, frame(7));
        assert_eq!(
            texts(&sent()),
            vec![5, 7],
            "a repeat is dropped, a gap not awaited"
        );
        // An event stored by an attempt that never answered, announced by the retry.
        seq.offer("r", 6, frame(6));
        seq.offer("r", 6, frame(6));
        assert_eq!(texts(&sent()), vec![5, 7, 6]);
        // Before tracking began here: never delivered by this node.
        seq.offer("r", 3, frame(3));
        seq.offer("r", 3, frame(3));
        seq.offer("r", 4, frame(4));
        assert_eq!(texts(&sent()), vec![5, 7, 6, 3, 4]);
    }

    #[test]
    fn a_forgotten_skipped_range_errs_towards_delivering() {
        let (seq, sent) = one_listener(None);
        seq.offer("r", 1, frame(1));
        let mut at = 1u8;
        for _ in 0..(MAX_SKIPPED + 2) {
            at += 2;
            seq.offer("r", u64::from(at), frame(at));
        }
        let before = sent().len();
        // Seq 2 was skipped first, and its range forgotten: still delivered, not lost.
        seq.offer("r", 2, frame(2));
        assert_eq!(sent().len(), before + 1);
    }
}
