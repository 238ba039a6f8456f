//! Prometheus series of the `ws` role, in the registry `/metrics` serves.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, Registry};

#[derive(Clone)]
pub struct WsMetrics {
    pub connections: IntGauge,
    pub deliveries: IntCounter,
    pub dropped: IntCounter,
    pub slow_closed: IntCounter,
    pub stored: IntCounter,
    pub repeats_dropped: IntCounter,
    pub not_saved: IntCounter,
    pub batch_size: Histogram,
    pub save_seconds: Histogram,
}

impl WsMetrics {
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let m = Self {
            connections: IntGauge::new("chatapp_ws_connections", "Open WebSocket connections")?,
            deliveries: IntCounter::new(
                "chatapp_ws_deliveries_total",
                "Frames handed to subscribers by broadcasts",
            )?,
            dropped: IntCounter::new(
                "chatapp_ws_dropped_total",
                "Typing/presence frames dropped for slow readers",
            )?,
            slow_closed: IntCounter::new(
                "chatapp_ws_slow_closed_total",
                "Connections closed with 1013 for reading too slowly",
            )?,
            stored: IntCounter::new(
                "chatapp_ws_messages_stored_total",
                "Chat messages stored and acked",
            )?,
            repeats_dropped: IntCounter::new(
                "chatapp_ws_repeats_dropped_total",
                "Room events announced again (a retry found them stored) and not delivered twice",
            )?,
            not_saved: IntCounter::new(
                "chatapp_ws_not_saved_total",
                "Chat messages answered with not_saved",
            )?,
            batch_size: Histogram::with_opts(
                HistogramOpts::new("chatapp_ws_save_batch_size", "Messages per save batch")
                    .buckets(vec![1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0]),
            )?,
            save_seconds: Histogram::with_opts(
                HistogramOpts::new("chatapp_ws_save_seconds", "Time to store one batch").buckets(
                    vec![0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0],
                ),
            )?,
        };
        registry.register(Box::new(m.connections.clone()))?;
        registry.register(Box::new(m.deliveries.clone()))?;
        registry.register(Box::new(m.dropped.clone()))?;
        registry.register(Box::new(m.slow_closed.clone()))?;
        registry.register(Box::new(m.stored.clone()))?;
        registry.register(Box::new(m.not_saved.clone()))?;
        registry.register(Box::new(m.repeats_dropped.clone()))?;
        registry.register(Box::new(m.batch_size.clone()))?;
        registry.register(Box::new(m.save_seconds.clone()))?;
        Ok(m)
    }
}
