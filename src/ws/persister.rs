//! Group commit: a lane takes every chat message waiting to be stored, saves them as one
//! batch, then acknowledges each to its sender and broadcasts the new ones. Each room
//! belongs to one lane ([`SaveLanes::for_room`]) and a lane has one batch in flight at a
//! time, so this node broadcasts each room's messages in seq order; while a batch is being
//! stored the next one gathers. Lanes hold disjoint rooms, so their batches never wait on
//! each other's room locks and one lane's commit overlaps another's work. A batch the store
//! cannot take is retried with the same client ids (so a retry never duplicates), then
//! answered with `not_saved`.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::bus::Bus;
use super::frames::{self, ErrorCode};
use super::metrics::WsMetrics;
use super::socket::Outbox;
use crate::domain::{Draft, MessageStore, SaveOutcome, StoreUnavailable};

pub struct SaveJob {
    pub draft: Draft,
    pub outbox: Outbox,
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

#[derive(Debug, Clone)]
pub struct PersistSettings {
    pub max_batch: usize,
    /// Batches stored at once, each for its own share of the rooms (1 on SQLite, which
    /// writes one transaction at a time anyway).
    pub lanes: usize,
    /// Pauses before each retry of a batch the store could not take.
    pub retry_delays: Vec<Duration>,
}

pub async fn run(
    store: Box<dyn MessageStore>,
    mut jobs: mpsc::Receiver<SaveJob>,
    bus: Arc<dyn Bus>,
    metrics: WsMetrics,
    settings: PersistSettings,
) {
    let mut batch: Vec<SaveJob> = Vec::with_capacity(settings.max_batch);
    while let Some(first) = jobs.recv().await {
        batch.push(first);
        while batch.len() < settings.max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        metrics.batch_size.observe(batch.len() as f64);
        let drafts: Vec<Draft> = batch.iter().map(|j| j.draft.clone()).collect();
        let started = Instant::now();
        let result = save_with_retries(store.as_ref(), drafts, &settings.retry_delays).await;
        metrics
            .save_seconds
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(outcomes) => {
                for (job, outcome) in batch.drain(..).zip(outcomes) {
                    answer(job, outcome, bus.as_ref(), &metrics);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, messages = batch.len(), "messages not saved");
                for job in batch.drain(..) {
                    metrics.not_saved.inc();
                    let frame = frames::error(
                        ErrorCode::NotSaved,
                        "the message could not be stored; send it again with the same client_id",
                        job.draft.client_id.as_deref(),
                    );
                    let _ = job.outbox.send(frame);
                }
            }
        }
    }
    tracing::debug!("persister stopped");
}

fn answer(job: SaveJob, outcome: SaveOutcome, bus: &dyn Bus, metrics: &WsMetrics) {
    match outcome {
        SaveOutcome::Stored { message } => {
            metrics.stored.inc();
            // The ack first, so the sender's own copy of the broadcast follows it.
            let _ = job.outbox.send(frames::ack(&message));
            bus.publish_chat(&message);
        }
        SaveOutcome::Duplicate { message } => {
            let _ = job.outbox.send(frames::ack(&message));
        }
        SaveOutcome::Rejected { code, message } => {
            let frame = frames::error(
                ErrorCode::from_code(&code),
                &message,
                job.draft.client_id.as_deref(),
            );
            let _ = job.outbox.send(frame);
        }
    }
}

async fn save_with_retries(
    store: &dyn MessageStore,
    drafts: Vec<Draft>,
    delays: &[Duration],
) -> Result<Vec<SaveOutcome>, StoreUnavailable> {
    let mut last = None;
    for attempt in 0..=delays.len() {
        if attempt > 0 {
            actix_web::rt::time::sleep(delays[attempt - 1]).await;
        }
        match store.save(drafts.clone()).await {
            Ok(outcomes) if outcomes.len() == drafts.len() => return Ok(outcomes),
            Ok(outcomes) => {
                last = Some(StoreUnavailable(format!(
                    "the store answered {} outcomes for {} messages",
                    outcomes.len(),
                    drafts.len()
                )));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| StoreUnavailable("no attempt was made".into())))
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
