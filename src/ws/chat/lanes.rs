//! The persister's lanes: each room belongs to one, so a room's writes are stored, acked
//! and announced in order, while lanes for disjoint rooms overlap their work.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::drain::Ticket;
use crate::domain::Draft;
use crate::ws::transport::Outbox;

/// A draft on its way to be stored, with where to answer its sender.
pub struct SaveJob {
    pub draft: Draft,
    pub outbox: Outbox,
    /// Held until the sender is answered (shutdown waits for it).
    pub ticket: Ticket,
}

/// The queues of the persister's lanes; a room's messages always take the same one.
#[derive(Clone)]
pub struct SaveLanes(Arc<[mpsc::Sender<SaveJob>]>);

impl SaveLanes {
    /// Lanes of `capacity` jobs each, and their receiving ends (one per lane).
    pub fn new(lanes: usize, capacity: usize) -> (Self, Vec<mpsc::Receiver<SaveJob>>) {
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..lanes.max(1)).map(|_| mpsc::channel(capacity)).unzip();
        (Self(senders.into()), receivers)
    }

    /// The lane of a room: the same on every call (and every node, which does not matter).
    pub fn for_room(&self, room: &str) -> &mpsc::Sender<SaveJob> {
        // Every chat frame comes here: with one lane (the default) there is nothing to hash.
        if let [only] = &self.0[..] {
            return only;
        }
        let mut hasher = std::hash::DefaultHasher::new();
        room.hash(&mut hasher);
        &self.0[(hasher.finish() % self.0.len() as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::SaveLanes;

    fn lane_of(lanes: &SaveLanes, room: &str) -> usize {
        let chosen = lanes.for_room(room);
        lanes
            .0
            .iter()
            .position(|lane| lane.same_channel(chosen))
            .expect("one of the lanes")
    }

    #[test]
    fn a_room_always_takes_the_same_lane_and_rooms_use_every_lane() {
        let (lanes, _receivers) = SaveLanes::new(4, 8);
        let mut used = [0usize; 4];
        for r in 0..200 {
            let room = format!("room-{r}");
            let lane = lane_of(&lanes, &room);
            assert_eq!(lane, lane_of(&lanes, &room));
            used[lane] += 1;
        }
        assert!(used.iter().all(|&n| n >= 20), "rooms per lane: {used:?}");
    }

    #[test]
    fn zero_lanes_means_one() {
        let (lanes, receivers) = SaveLanes::new(0, 8);
        assert_eq!((lanes.0.len(), receivers.len()), (1, 1));
    }
}
