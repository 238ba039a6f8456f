//! Prometheus metrics at `GET /metrics`: request counts and latencies per route,
//! and the process's own CPU, memory and file descriptors.

use std::collections::HashMap;

use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};

pub fn build(role: &str, registry: prometheus::Registry) -> anyhow::Result<PrometheusMetrics> {
    PrometheusMetricsBuilder::new("chatapp")
        .registry(registry)
        .endpoint("/metrics")
        .mask_unmatched_patterns("UNMATCHED")
        .const_labels(HashMap::from([("role".to_string(), role.to_string())]))
        .build()
        .map_err(|e| anyhow::anyhow!("cannot set up metrics: {e}"))
}
