//! `rooms`: many rooms of a few clients each, every client both sending and receiving.
//! The total send rate ramps up step by step (open loop: senders do not wait for acks);
//! each step reports deliveries per second and latency for the messages sent during it,
//! and the knee is the last step that kept up with p99 under the bound.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::fanout::{Ws, connect, ensure_room};
use crate::stats::{histogram, latency_line, now_micros};
use crate::{Common, server, setup};

#[derive(Args)]
pub struct Opts {
    /// Rooms
    #[arg(long, default_value_t = 1000)]
    rooms: usize,
    /// Clients per room; client k of every room signs in as user k
    #[arg(long, default_value_t = 10)]
    per_room: usize,
    /// Messages per second in all, at the first step
    #[arg(long, default_value_t = 2000.0)]
    start_rate: f64,
    /// Each step multiplies the rate by this
    #[arg(long, default_value_t = 1.4)]
    factor: f64,
    /// Steps at most
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Seconds per step
    #[arg(long, default_value_t = 5)]
    step_secs: u64,
    /// The latency bound of the knee: p99 below this many milliseconds
    #[arg(long, default_value_t = 50.0)]
    p99_ms: f64,
    #[arg(long, default_value = "bench-r")]
    room_prefix: String,
    /// Offset of the bench users
    #[arg(long, default_value_t = 5000)]
    user_offset: usize,
}

/// Histograms per step, sharded so that receivers seldom share a lock.
struct StepStats {
    shards: Vec<Mutex<Vec<Histogram<u64>>>>,
    delivered: Vec<AtomicU64>,
}

const SHARDS: usize = 16;

impl StepStats {
    fn new(steps: usize) -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new((0..steps).map(|_| histogram()).collect()))
                .collect(),
            delivered: (0..steps).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn record(&self, shard: usize, step: usize, micros: u64) {
        if let Some(count) = self.delivered.get(step) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut shard) = self.shards[shard % SHARDS].lock()
            && let Some(h) = shard.get_mut(step)
        {
            let _ = h.record(micros.max(1));
        }
    }

    fn merged(&self, step: usize) -> Histogram<u64> {
        let mut all = histogram();
        for shard in &self.shards {
            if let Ok(shard) = shard.lock() {
                let _ = all.add(&shard[step]);
            }
        }
        all
    }
}

/// `bench <micros> s<step> …` → (micros, step).
fn stamp(frame: &str) -> Option<(u64, usize)> {
    let start = frame.find("\"content\":\"bench ")? + "\"content\":\"bench ".len();
    let mut words = frame[start..].split(' ');
    let micros = words.next()?.parse().ok()?;
    let step = words.next()?.strip_prefix('s')?.parse().ok()?;
    Some((micros, step))
}

type Sink = SplitSink<Ws, Message>;

pub async fn run(common: &Common, opts: Opts) -> anyhow::Result<()> {
    let clients = opts.rooms * opts.per_room;
    eprintln!(
        "setting up {} users and {} rooms…",
        opts.per_room, opts.rooms
    );
    let tokens = setup::tokens(common, opts.user_offset, opts.per_room)?;
    let rooms: Vec<String> = (0..opts.rooms)
        .map(|r| format!("{}{r}", opts.room_prefix))
        .collect();
    for room in &rooms {
        ensure_room(common, &tokens[0], room)?;
    }
    let stats = Arc::new(StepStats::new(opts.steps));
    let errors = Arc::new(AtomicU64::new(0));
    let closed = Arc::new(AtomicUsize::new(0));
    eprintln!("connecting {clients} clients…");
    let mut sinks: Vec<(Sink, String)> = Vec::with_capacity(clients);
    let mut receivers = Vec::with_capacity(clients);
    for (r, room) in rooms.iter().enumerate() {
        for (k, token) in tokens.iter().enumerate() {
            let i = r * opts.per_room + k;
            let mut ws = connect(&common.ws_base(i), token).await?;
            ws.send(Message::Text(
                json!({"type": "join", "room": room}).to_string().into(),
            ))
            .await?;
            while let Some(frame) = ws.next().await {
                if let Message::Text(t) = frame?
                    && t.contains("online_users")
                {
                    break;
                }
            }
            let (sink, mut stream) = ws.split();
            sinks.push((sink, room.clone()));
            let (stats, errors, closed) = (stats.clone(), errors.clone(), closed.clone());
            receivers.push(tokio::spawn(async move {
                while let Some(frame) = stream.next().await {
                    match frame {
                        Ok(Message::Text(t)) => {
                            if let Some((sent, step)) = stamp(&t) {
                                stats.record(i, step, now_micros().saturating_sub(sent));
                            } else if t.contains("\"type\":\"error\"") {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Ok(Message::Close(_)) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
                closed.fetch_add(1, Ordering::Relaxed);
            }));
        }
        if (r + 1) % 100 == 0 {
            eprintln!("{} clients connected", (r + 1) * opts.per_room);
        }
    }

    // Senders: a few tasks, each owning a share of the connections and sending its share
    // of the rate round-robin over them.
    let senders = 16.min(clients.max(1));
    let rate_milli = Arc::new(AtomicU64::new(0));
    let step_now = Arc::new(AtomicUsize::new(0));
    let mut parts: Vec<Vec<(Sink, String)>> = (0..senders).map(|_| Vec::new()).collect();
    for (i, sink) in sinks.into_iter().enumerate() {
        parts[i % senders].push(sink);
    }
    let sent_total = Arc::new(AtomicU64::new(0));
    let mut sender_tasks = Vec::new();
    for (s, mut part) in parts.into_iter().enumerate() {
        let (rate_milli, step_now, sent_total) =
            (rate_milli.clone(), step_now.clone(), sent_total.clone());
        sender_tasks.push(tokio::spawn(async move {
            let padding = "x".repeat(40);
            let mut tick = tokio::time::interval(Duration::from_millis(5));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut last = Instant::now();
            let (mut owed, mut next, mut n) = (0.0f64, 0usize, 0u64);
            loop {
                tick.tick().await;
                if part.is_empty() {
                    return;
                }
                let rate = rate_milli.load(Ordering::Relaxed) as f64 / 1000.0;
                let now = Instant::now();
                owed += rate / senders as f64 * now.duration_since(last).as_secs_f64();
                last = now;
                let step = step_now.load(Ordering::Relaxed);
                if step == usize::MAX {
                    return;
                }
                while owed >= 1.0 {
                    owed -= 1.0;
                    let len = part.len();
                    let (sink, room) = &mut part[next % len];
                    next += 1;
                    n += 1;
                    let frame = json!({
                        "type": "chat",
                        "room": room,
                        "content": format!("bench {} s{step} {padding}", now_micros()),
                        "client_id": format!("r{s}-{n}-{}", now_micros()),
                    });
                    if sink
                        .send(Message::Text(frame.to_string().into()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    sent_total.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }

    println!(
        "scenario: rooms, {} rooms x {} clients = {clients} connections on {} ws node(s); \
         steps of {} s from {:.0} msg/s, x{} each",
        opts.rooms,
        opts.per_room,
        common.ws_url.len().max(1),
        opts.step_secs,
        opts.start_rate,
        opts.factor
    );
    let mut knee: Option<(f64, f64)> = None;
    let mut rate = opts.start_rate;
    let mut results = Vec::new();
    for step in 0..opts.steps {
        step_now.store(step, Ordering::Relaxed);
        rate_milli.store((rate * 1000.0) as u64, Ordering::Relaxed);
        let sent_before = sent_total.load(Ordering::Relaxed);
        let before = server::sample(&common.server_pid);
        tokio::time::sleep(Duration::from_secs(opts.step_secs)).await;
        let after = server::sample(&common.server_pid);
        let sent = sent_total.load(Ordering::Relaxed) - sent_before;
        // Let this step's messages arrive (bounded) before reading its numbers.
        let expected = sent * opts.per_room as u64;
        let wait_until = Instant::now() + Duration::from_secs(2);
        while stats.delivered[step].load(Ordering::Relaxed) < expected
            && Instant::now() < wait_until
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let delivered = stats.delivered[step].load(Ordering::Relaxed);
        let h = stats.merged(step);
        let per_sec = delivered as f64 / opts.step_secs as f64;
        let p99 = h.value_at_quantile(0.99) as f64 / 1000.0;
        let cpu = match (before, after) {
            (Some(b), Some(a)) => format!(
                "; server {:.2} µs CPU/delivery",
                (a.cpu_seconds - b.cpu_seconds) * 1e6 / delivered.max(1) as f64
            ),
            _ => String::new(),
        };
        println!(
            "step {step}: target {rate:.0} msg/s, sent {:.0} msg/s, delivered {delivered} of \
             {expected} = {per_sec:.0} deliveries/s; {}{cpu}",
            sent as f64 / opts.step_secs as f64,
            latency_line(&h)
        );
        let kept_up = delivered as f64 >= expected as f64 * 0.99
            && sent as f64 >= rate * opts.step_secs as f64 * 0.95;
        results.push((rate, per_sec, p99, kept_up));
        if kept_up && p99 < opts.p99_ms {
            knee = Some((rate, per_sec));
        } else if p99 > opts.p99_ms * 4.0 || !kept_up {
            break;
        }
        rate *= opts.factor;
    }
    step_now.store(usize::MAX, Ordering::Relaxed);
    match knee {
        Some((rate, per_sec)) => println!(
            "knee: {per_sec:.0} deliveries/s ({rate:.0} msg/s) with p99 < {} ms",
            opts.p99_ms
        ),
        None => println!("knee: no step kept up with p99 < {} ms", opts.p99_ms),
    }
    println!(
        "errors: {} error frames, {} connections closed",
        errors.load(Ordering::Relaxed),
        closed.load(Ordering::Relaxed)
    );
    for task in sender_tasks {
        task.abort();
    }
    for task in receivers {
        task.abort();
    }
    Ok(())
}
