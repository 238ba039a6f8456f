//! Prometheus series of the push worker, in the registry `/metrics` serves.

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

#[derive(Clone)]
pub struct PushMetrics {
    pub sent: IntCounter,
    pub retries: IntCounter,
    pub failed: IntCounter,
    pub expired: IntCounter,
    pub dropped: IntCounterVec,
}

impl PushMetrics {
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let m = Self {
            sent: IntCounter::new("chatapp_push_sent_total", "Pushes a push service accepted")?,
            retries: IntCounter::new(
                "chatapp_push_retries_total",
                "Pushes tried again after a timeout, a 5xx or a 429",
            )?,
            failed: IntCounter::new(
                "chatapp_push_failed_total",
                "Pushes given up: refused, or still failing after every attempt",
            )?,
            expired: IntCounter::new(
                "chatapp_push_expired_total",
                "Subscriptions forgotten because their push service answered 404 or 410",
            )?,
            dropped: IntCounterVec::new(
                Opts::new(
                    "chatapp_push_dropped_total",
                    "Notifications or pushes dropped before sending, by reason",
                ),
                &["reason"],
            )?,
        };
        registry.register(Box::new(m.sent.clone()))?;
        registry.register(Box::new(m.retries.clone()))?;
        registry.register(Box::new(m.failed.clone()))?;
        registry.register(Box::new(m.expired.clone()))?;
        registry.register(Box::new(m.dropped.clone()))?;
        Ok(m)
    }

    pub fn drop_one(&self, reason: &str) {
        self.dropped.with_label_values(&[reason]).inc();
    }
}
