//! Group commit: a lane takes every draft waiting to be stored, saves them as one batch
//! (each draft independently of the others' faults), then answers each sender and
//! announces each event. Each room belongs to one lane ([`SaveLanes::for_room`]) and a lane
//! has one batch in flight at a time, so this node announces each room's events in seq
//! order; while a batch is being stored the next one gathers.
//!
//! Store → ack → announce is the one path for every kind of event. A batch whose outcome is
//! unknown (the store timed out, the connection dropped at commit) is sent again with the
//! same client ids: what was stored comes back as `Duplicate` and is acked *and announced*,
//! since no one may have announced it; the bus's sequencer delivers each seq to a node's
//! subscribers once, so an event that was announced before is not repeated. A batch the
//! store still cannot take is answered `not_saved` (the client resends, same client id).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::lanes::SaveJob;
use crate::domain::SaveOutcome;
use crate::domain::services::{EventStore, Unavailable};
use crate::ws::bus::Bus;
use crate::ws::frames::{self, ErrorCode};
use crate::ws::metrics::WsMetrics;

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
    store: Arc<dyn EventStore>,
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
        let drafts = batch.iter().map(|j| j.draft.clone()).collect();
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
                        Some(job.draft.client_id.as_str()),
                    );
                    send_answer(&job, frame, &metrics);
                }
            }
        }
    }
    tracing::debug!("persister stopped");
}

/// Answers the sender: a frame it must not miss (see [`crate::ws::transport::Outbox::send_or_close`]).
fn send_answer(job: &SaveJob, frame: bytes::Bytes, metrics: &WsMetrics) {
    if job.outbox.send_or_close(frame).is_err() {
        metrics.slow_closed.inc();
    }
}

fn answer(job: SaveJob, outcome: SaveOutcome, bus: &dyn Bus, metrics: &WsMetrics) {
    match outcome {
        SaveOutcome::Stored { event } => {
            metrics.stored.inc();
            // The ack first, so the sender's own copy of the event follows it.
            send_answer(&job, frames::ack(&event), metrics);
            bus.announce(&event);
        }
        SaveOutcome::Duplicate { event } => {
            send_answer(&job, frames::ack(&event), metrics);
            // Stored by an attempt whose answer was lost, perhaps never announced: the
            // sequencer delivers it where it was not delivered yet, and nowhere twice.
            bus.announce(&event);
        }
        SaveOutcome::Rejected { reason } => {
            if reason.code == crate::domain::RejectCode::NotSaved {
                metrics.not_saved.inc();
            }
            let frame = frames::error(
                reason.code.into(),
                &reason.message,
                Some(job.draft.client_id.as_str()),
            );
            send_answer(&job, frame, metrics);
        }
    }
}

async fn save_with_retries(
    store: &dyn EventStore,
    drafts: Vec<crate::domain::Draft>,
    delays: &[Duration],
) -> Result<Vec<SaveOutcome>, Unavailable> {
    let mut last = None;
    for attempt in 0..=delays.len() {
        if attempt > 0 {
            actix_web::rt::time::sleep(delays[attempt - 1]).await;
        }
        match store.save(drafts.clone()).await {
            Ok(outcomes) if outcomes.len() == drafts.len() => return Ok(outcomes),
            Ok(outcomes) => {
                last = Some(Unavailable(format!(
                    "the store answered {} outcomes for {} messages",
                    outcomes.len(),
                    drafts.len()
                )));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| Unavailable("no attempt was made".into())))
}
