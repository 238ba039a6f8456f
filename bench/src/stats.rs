//! Latency histograms and the report lines.

use hdrhistogram::Histogram;

pub fn histogram() -> Histogram<u64> {
    // 1 µs to 60 s, 3 significant figures: valid bounds, so this cannot fail.
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

pub fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

pub fn latency_line(h: &Histogram<u64>) -> String {
    if h.is_empty() {
        return "latency: no samples".into();
    }
    format!(
        "latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples)",
        h.value_at_quantile(0.50) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.max() as f64 / 1000.0,
        h.len()
    )
}
