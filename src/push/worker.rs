//! The push worker: a thread of its own (an awc client belongs to one thread) that takes
//! notifications from the queue, finds who wants them and their subscriptions, and
//! delivers each push with bounded retries.
//!
//! Bounds, so a slow or failing push service costs only its own pushes: at most
//! `push.pending` pushes are under way (delivering or waiting to retry; the worker takes
//! no more notifications meanwhile, and the queue in front of it drops when full), at most
//! `push.concurrency` requests are in flight, and one endpoint's pushes go one at a time,
//! at most `push.per_endpoint` of them waiting (past that, its new pushes are dropped).

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, mpsc};

use super::send::{Outcome, PushRequest, Urgency, send};
use super::vapid::VapidKey;
use super::{Notification, PushMetrics, Recipient, ece, subscription};
use crate::config::PushSettings;
use crate::domain::{NotifyLevel, RoomKind, should_push};
use crate::storage::push::{self as stored, Subscription};
use crate::storage::{Db, StorageError};

/// A notification waiting in the queue.
pub(super) struct Job {
    pub recipients: Vec<Recipient>,
    pub notification: Notification,
}

/// The settings the worker runs by.
pub(super) struct WorkerSettings {
    subject: Option<String>,
    ttl_secs: u32,
    timeout: Duration,
    attempts: u32,
    retry_base: Duration,
    retry_max: Duration,
    concurrency: usize,
    pending: usize,
    per_endpoint: usize,
}

impl WorkerSettings {
    pub fn new(s: &PushSettings) -> Self {
        Self {
            subject: s.subject.clone(),
            ttl_secs: s.ttl_secs,
            timeout: Duration::from_secs(s.timeout_secs),
            attempts: s.attempts,
            retry_base: Duration::from_millis(s.retry_base_ms),
            retry_max: Duration::from_secs(s.retry_max_secs),
            concurrency: s.concurrency,
            pending: s.pending,
            per_endpoint: s.per_endpoint,
        }
    }

    /// The wait before try `attempt + 1`: what the service asked for, else the base
    /// doubled for each try so far (with a little jitter), at most `retry_max`.
    fn wait(&self, attempt: u32, asked: Option<Duration>) -> Duration {
        let wait = asked.unwrap_or_else(|| {
            let doubled = self
                .retry_base
                .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
            doubled.mul_f64(1.0 + rand::random::<f64>() * 0.1)
        });
        wait.min(self.retry_max)
    }
}

/// Starts the worker thread; it ends when every `PushService` handle is gone.
pub(super) fn spawn(
    db: Db,
    key: Arc<VapidKey>,
    settings: WorkerSettings,
    metrics: PushMetrics,
    jobs: mpsc::Receiver<Job>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("push".into())
        .spawn(move || {
            actix_rt::System::new().block_on(async move {
                let worker = Rc::new(Worker {
                    client: awc::Client::builder()
                        // A push service answers; it never sends us elsewhere.
                        .disable_redirects()
                        .timeout(settings.timeout)
                        .finish(),
                    in_flight: Semaphore::new(settings.concurrency),
                    under_way: Arc::new(Semaphore::new(settings.pending)),
                    endpoints: Endpoints::default(),
                    db,
                    key,
                    settings,
                    metrics,
                });
                worker.run(jobs).await;
            });
        })?;
    Ok(())
}

struct Worker {
    client: awc::Client,
    /// Requests in flight.
    in_flight: Semaphore,
    /// Pushes delivering or waiting to retry.
    under_way: Arc<Semaphore>,
    endpoints: Endpoints,
    db: Db,
    key: Arc<VapidKey>,
    settings: WorkerSettings,
    metrics: PushMetrics,
}

/// One endpoint's turn: its pushes go one at a time, in order.
#[derive(Default)]
struct Turn {
    lock: Mutex<()>,
    /// Pushes for this endpoint taken and not finished (the one sending included).
    waiting: Cell<usize>,
}

#[derive(Default)]
struct Endpoints(std::cell::RefCell<HashMap<String, Rc<Turn>>>);

impl Endpoints {
    fn turn(&self, endpoint: &str) -> Rc<Turn> {
        self.0
            .borrow_mut()
            .entry(endpoint.to_owned())
            .or_default()
            .clone()
    }

    /// Forgets the endpoint's turn once nobody else holds it.
    fn release(&self, endpoint: &str, turn: Rc<Turn>) {
        // The map's reference and ours: nobody else is waiting.
        if Rc::strong_count(&turn) == 2 {
            self.0.borrow_mut().remove(endpoint);
        }
    }
}

impl Worker {
    async fn run(self: Rc<Self>, mut jobs: mpsc::Receiver<Job>) {
        while let Some(job) = jobs.recv().await {
            let targets = match self.targets(job.recipients, &job.notification).await {
                Ok(targets) => targets,
                Err(e) => {
                    self.metrics.drop_one("database");
                    tracing::warn!(error = %e, room = %job.notification.room, "cannot find whom to push to");
                    continue;
                }
            };
            if targets.is_empty() {
                continue;
            }
            let payload = Bytes::from(job.notification.payload());
            for (subscription, urgency) in targets {
                let turn = self.endpoints.turn(&subscription.endpoint);
                if turn.waiting.get() >= self.settings.per_endpoint {
                    self.metrics.drop_one("endpoint_backlog");
                    tracing::warn!(
                        subscription = subscription.id,
                        "an endpoint has too many pushes waiting: one was dropped"
                    );
                    self.endpoints.release(&subscription.endpoint, turn);
                    continue;
                }
                turn.waiting.set(turn.waiting.get() + 1);
                // Waits while `push.pending` pushes are under way: the queue fills meanwhile.
                let Ok(permit) = self.under_way.clone().acquire_owned().await else {
                    return;
                };
                let worker = self.clone();
                let payload = payload.clone();
                actix_rt::spawn(async move {
                    worker
                        .deliver(subscription, payload, urgency, turn, permit)
                        .await;
                });
            }
        }
    }

    /// The subscriptions to push to, each with its urgency: recipients whose level for the
    /// room lets this message through, of active accounts.
    async fn targets(
        &self,
        recipients: Vec<Recipient>,
        notification: &Notification,
    ) -> Result<Vec<(Subscription, Urgency)>, StorageError> {
        let room_id = notification.room_id;
        let kind = notification.kind;
        self.db
            .run(move |conn| {
                let mut mentioned: HashMap<i64, bool> = HashMap::new();
                for r in &recipients {
                    *mentioned.entry(r.user_id).or_default() |= r.mentioned;
                }
                let ids: Vec<i64> = mentioned.keys().copied().collect();
                let levels = stored::room_levels(conn, room_id, &ids)?;
                let direct = kind == RoomKind::Direct;
                let wanted: Vec<i64> = ids
                    .into_iter()
                    .filter(|id| {
                        let level = NotifyLevel::or_default(levels.get(id).copied(), kind);
                        should_push(level, direct, mentioned.get(id).copied().unwrap_or(false))
                    })
                    .collect();
                let subscriptions = stored::subscriptions_of(conn, &wanted)?;
                Ok(subscriptions
                    .into_iter()
                    .map(|s| {
                        let urgency =
                            if direct || mentioned.get(&s.user_id).copied().unwrap_or(false) {
                                Urgency::High
                            } else {
                                Urgency::Normal
                            };
                        (s, urgency)
                    })
                    .collect())
            })
            .await
    }

    async fn deliver(
        &self,
        subscription: Subscription,
        payload: Bytes,
        urgency: Urgency,
        turn: Rc<Turn>,
        _under_way: OwnedSemaphorePermit,
    ) {
        {
            let _mine = turn.lock.lock().await;
            self.deliver_one(&subscription, &payload, urgency).await;
        }
        turn.waiting.set(turn.waiting.get().saturating_sub(1));
        self.endpoints.release(&subscription.endpoint, turn);
    }

    async fn deliver_one(&self, subscription: &Subscription, payload: &[u8], urgency: Urgency) {
        let id = subscription.id;
        let prepared = url::Url::parse(&subscription.endpoint)
            .map_err(|e| e.to_string())
            .and_then(|endpoint| {
                let (ua_public, _) =
                    subscription::public_key(&subscription.p256dh).map_err(str::to_owned)?;
                let (auth, _) =
                    subscription::auth_secret(&subscription.auth).map_err(str::to_owned)?;
                let body = ece::encrypt(payload, &ua_public, &auth).map_err(|e| e.to_string())?;
                Ok((endpoint, Bytes::from(body)))
            });
        let (endpoint, body) = match prepared {
            Ok(ready) => ready,
            Err(e) => {
                self.metrics.failed.inc();
                tracing::warn!(subscription = id, error = %e, "a push could not be prepared");
                return;
            }
        };
        // Endpoints are capabilities: logs name the subscription and the service only.
        let service = endpoint.origin().ascii_serialization();
        for attempt in 1..=self.settings.attempts {
            let authorization =
                self.key
                    .authorization(&endpoint, self.settings.subject.as_deref(), unix_now());
            let outcome = {
                let Ok(_slot) = self.in_flight.acquire().await else {
                    return;
                };
                let push = PushRequest {
                    endpoint: endpoint.as_str(),
                    body: body.clone(),
                    authorization,
                    ttl_secs: self.settings.ttl_secs,
                    urgency,
                };
                send(&self.client, push, self.settings.timeout).await
            };
            match outcome {
                Outcome::Delivered => {
                    self.metrics.sent.inc();
                    return;
                }
                Outcome::Gone => {
                    self.forget(&subscription.endpoint, id).await;
                    return;
                }
                Outcome::Refused(reason) => {
                    self.metrics.failed.inc();
                    tracing::warn!(subscription = id, %service, %reason, "a push was refused");
                    return;
                }
                Outcome::Retry { after, reason } => {
                    if attempt == self.settings.attempts {
                        self.metrics.failed.inc();
                        tracing::warn!(subscription = id, %service, %reason, attempts = attempt, "a push failed every attempt");
                        return;
                    }
                    self.metrics.retries.inc();
                    let wait = self.settings.wait(attempt, after);
                    tracing::debug!(subscription = id, %service, %reason, ?wait, "a push will be tried again");
                    actix_rt::time::sleep(wait).await;
                }
            }
        }
    }

    async fn forget(&self, endpoint: &str, id: i64) {
        let endpoint = endpoint.to_owned();
        match self
            .db
            .run(move |conn| stored::forget_endpoint(conn, &endpoint))
            .await
        {
            Ok(_) => {
                self.metrics.expired.inc();
                tracing::info!(
                    subscription = id,
                    "a push subscription expired and is forgotten"
                );
            }
            Err(e) => {
                tracing::warn!(subscription = id, error = %e, "an expired push subscription could not be deleted")
            }
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_honour_retry_after() {
        let settings = PushSettings {
            retry_base_ms: 1000,
            retry_max_secs: 60,
            ..PushSettings::default()
        };
        let w = WorkerSettings::new(&settings);
        let within = |d: Duration, secs: f64| {
            let s = d.as_secs_f64();
            s >= secs && s <= secs * 1.1 + 1e-9
        };
        assert!(within(w.wait(1, None), 1.0));
        assert!(within(w.wait(2, None), 2.0));
        assert!(within(w.wait(3, None), 4.0));
        assert_eq!(w.wait(10, None), Duration::from_secs(60));
        assert_eq!(
            w.wait(1, Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
        assert_eq!(
            w.wait(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(60)
        );
    }
}
