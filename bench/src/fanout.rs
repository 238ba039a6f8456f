//! `fanout`: one room, many receivers, a few senders. Reports deliveries per second and
//! the latency from the send time written into each message to its arrival.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use crate::stats::{histogram, latency_line, now_micros};
use crate::{Common, server, setup};

#[derive(Args)]
pub struct Opts {
    /// Receiving connections, all in one room
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Sending connections (not in the room)
    #[arg(long, default_value_t = 4)]
    senders: usize,
    /// Messages in all
    #[arg(long, default_value_t = 2000)]
    messages: usize,
    /// Unacknowledged messages each sender may have in flight
    #[arg(long, default_value_t = 32)]
    window: usize,
    #[arg(long, default_value = "bench-fanout")]
    room: String,
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
}

pub async fn connect(base: &str, token: &str) -> anyhow::Result<crate::fanout::Ws> {
    let (ws, _) = tokio_tungstenite::connect_async_with_config(
        format!("{base}/ws/chat?token={token}"),
        None,
        true,
    )
    .await
    .context("WebSocket connect")?;
    Ok(ws)
}

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The send time written into a message's content: `bench <micros> …`.
pub fn sent_at(frame: &str) -> Option<u64> {
    let start = frame.find("\"content\":\"bench ")? + "\"content\":\"bench ".len();
    let digits = &frame[start..];
    let end = digits.find(|c: char| !c.is_ascii_digit())?;
    digits[..end].parse().ok()
}

pub fn ensure_room(common: &Common, token: &str, room: &str) -> anyhow::Result<()> {
    let reply = ureq::post(&format!("{}/api/rooms", common.url))
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(json!({"name": room, "description": "chatapp-bench"}));
    match reply {
        Ok(_) | Err(ureq::Error::Status(409, _)) => Ok(()),
        Err(e) => Err(anyhow::anyhow!("creating room {room}: {e}")),
    }
}

pub async fn run(common: &Common, opts: Opts) -> anyhow::Result<()> {
    let total = opts.clients + opts.senders;
    eprintln!("setting up {total} users…");
    let tokens = setup::tokens(common, 0, total)?;
    ensure_room(common, &tokens[0], &opts.room)?;
    eprintln!("connecting {} receivers…", opts.clients);
    let received = Arc::new(AtomicU64::new(0));
    let kicked = Arc::new(AtomicU64::new(0));
    let mut receivers = Vec::new();
    for (i, token) in tokens[..opts.clients].iter().enumerate() {
        let mut ws = connect(&common.ws_base(i), token).await?;
        ws.send(Message::Text(
            json!({"type": "join", "room": opts.room})
                .to_string()
                .into(),
        ))
        .await?;
        while let Some(frame) = ws.next().await {
            if let Message::Text(t) = frame?
                && t.contains("online_users")
            {
                break;
            }
        }
        let (received, kicked, expected) = (received.clone(), kicked.clone(), opts.messages);
        receivers.push(tokio::spawn(async move {
            let mut h = histogram();
            let mut got = 0usize;
            let mut last = Instant::now();
            while got < expected {
                match ws.next().await {
                    Some(Ok(Message::Text(t))) => {
                        if let Some(sent) = sent_at(&t) {
                            let _ = h.record(now_micros().saturating_sub(sent).max(1));
                            got += 1;
                            last = Instant::now();
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                        kicked.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Some(Ok(_)) => {}
                }
            }
            (h, last)
        }));
    }

    let mut senders = Vec::new();
    for (i, token) in tokens[opts.clients..].iter().enumerate() {
        senders.push(connect(&common.ws_base(i), token).await?);
    }
    let before = server::sample(&common.server_pid);
    eprintln!(
        "sending {} messages from {} senders…",
        opts.messages, opts.senders
    );
    let started = Instant::now();
    let per_sender = opts.messages.div_ceil(opts.senders.max(1));
    let mut sender_tasks = Vec::new();
    for (s, ws) in senders.into_iter().enumerate() {
        let count = per_sender.min(opts.messages.saturating_sub(s * per_sender));
        let (room, window) = (opts.room.clone(), opts.window);
        sender_tasks.push(tokio::spawn(async move {
            send_all(ws, s, count, &room, window).await
        }));
    }
    let deadline = Duration::from_secs(opts.timeout_secs);
    let mut all = histogram();
    let mut last_delivery = started;
    for task in receivers {
        match tokio::time::timeout(deadline.saturating_sub(started.elapsed()), task).await {
            Ok(Ok((h, last))) => {
                all.add(&h).ok();
                last_delivery = last_delivery.max(last);
            }
            _ => eprintln!("a receiver did not finish in time"),
        }
    }
    let mut errors = 0;
    for task in sender_tasks {
        errors += task.await.unwrap_or(Ok(0)).unwrap_or(0);
    }
    let after = server::sample(&common.server_pid);
    let elapsed = last_delivery.duration_since(started).as_secs_f64();
    let deliveries = received.load(Ordering::Relaxed);
    println!(
        "scenario: fanout, 1 room x {} receivers on {} ws node(s), {} senders, {} messages",
        opts.clients,
        common.ws_url.len().max(1),
        opts.senders,
        opts.messages
    );
    println!(
        "deliveries: {deliveries} of {} in {elapsed:.2} s = {:.0} deliveries/s",
        opts.clients * opts.messages,
        deliveries as f64 / elapsed
    );
    println!("{}", latency_line(&all));
    println!(
        "errors: {errors} sender errors, {} receivers closed early",
        kicked.load(Ordering::Relaxed)
    );
    if let (Some(b), Some(a)) = (before, after) {
        let cpu = a.cpu_seconds - b.cpu_seconds;
        println!(
            "server: {cpu:.2} CPU-s = {:.2} µs CPU per delivery; RSS {} MiB",
            cpu * 1e6 / deliveries.max(1) as f64,
            a.rss_kib / 1024
        );
    }
    Ok(())
}

/// Sends `count` messages with at most `window` unacknowledged; returns the error frames seen.
async fn send_all(
    ws: Ws,
    sender: usize,
    count: usize,
    room: &str,
    window: usize,
) -> anyhow::Result<u64> {
    let (mut sink, mut stream) = ws.split();
    let permits = Arc::new(Semaphore::new(window.max(1)));
    let reader_permits = permits.clone();
    let reader = tokio::spawn(async move {
        let (mut acks, mut errors) = (0usize, 0u64);
        while acks < count {
            match stream.next().await {
                Some(Ok(Message::Text(t))) => {
                    if t.contains("\"type\":\"ack\"") {
                        acks += 1;
                        reader_permits.add_permits(1);
                    } else if t.contains("\"type\":\"error\"") {
                        errors += 1;
                        acks += 1;
                        reader_permits.add_permits(1);
                    }
                }
                Some(Ok(_)) => {}
                _ => break,
            }
        }
        errors
    });
    let padding = "x".repeat(40);
    for i in 0..count {
        permits.acquire().await?.forget();
        let frame = json!({
            "type": "chat",
            "room": room,
            "content": format!("bench {} {sender}-{i} {padding}", now_micros()),
            "client_id": format!("f{sender}-{i}-{}", now_micros()),
        });
        sink.send(Message::Text(frame.to_string().into())).await?;
    }
    Ok(reader.await.unwrap_or(0))
}
