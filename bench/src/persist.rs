//! `persist`: many senders, nobody listening: acknowledged messages per second into the
//! store, and the time from send to ack (read back from the client id).

use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use crate::fanout::{connect, ensure_room};
use crate::stats::{histogram, latency_line, now_micros};
use crate::{Common, server, setup};

#[derive(Args)]
pub struct Opts {
    /// Sending connections
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// Messages per connection
    #[arg(long, default_value_t = 400)]
    messages: usize,
    /// Unacknowledged messages each connection may have in flight
    #[arg(long, default_value_t = 8)]
    window: usize,
    #[arg(long, default_value = "bench-persist")]
    room: String,
    /// Offset of the bench users (so runs can use fresh users)
    #[arg(long, default_value_t = 2000)]
    user_offset: usize,
}

pub async fn run(common: &Common, opts: Opts) -> anyhow::Result<()> {
    eprintln!("setting up {} users…", opts.clients);
    let tokens = setup::tokens(common, opts.user_offset, opts.clients)?;
    ensure_room(common, &tokens[0], &opts.room)?;
    let mut sockets = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        sockets.push(connect(&common.ws_base(i), token).await?);
    }
    let before = server::sample(&common.server_pid);
    let started = Instant::now();
    let run_id = now_micros();
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(c, ws)| {
            let (room, count, window) = (opts.room.clone(), opts.messages, opts.window);
            tokio::spawn(async move { client(ws, c, count, window, &room, run_id).await })
        })
        .collect();
    let mut all = histogram();
    let (mut acked, mut errors) = (0u64, 0u64);
    for task in tasks {
        let (h, ok, err) = task.await??;
        all.add(&h).ok();
        acked += ok;
        errors += err;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = server::sample(&common.server_pid);
    println!(
        "scenario: persist, {} connections x {} messages, window {}",
        opts.clients, opts.messages, opts.window
    );
    println!(
        "acked: {acked} in {elapsed:.2} s = {:.0} acked messages/s",
        acked as f64 / elapsed
    );
    println!("ack {}", latency_line(&all));
    println!("errors: {errors}");
    if let (Some(b), Some(a)) = (before, after) {
        let cpu = a.cpu_seconds - b.cpu_seconds;
        println!(
            "server: {cpu:.2} CPU-s = {:.1} µs CPU per message; RSS {} MiB",
            cpu * 1e6 / acked.max(1) as f64,
            a.rss_kib / 1024
        );
    }
    Ok(())
}

async fn client(
    ws: crate::fanout::Ws,
    c: usize,
    count: usize,
    window: usize,
    room: &str,
    run_id: u64,
) -> anyhow::Result<(hdrhistogram::Histogram<u64>, u64, u64)> {
    let (mut sink, mut stream) = ws.split();
    let permits = Arc::new(Semaphore::new(window.max(1)));
    let reader_permits = permits.clone();
    let reader = tokio::spawn(async move {
        let mut h = histogram();
        let (mut ok, mut errors) = (0u64, 0u64);
        while ok + errors < count as u64 {
            match stream.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: serde_json::Value = serde_json::from_str(&t).unwrap_or_default();
                    match v["type"].as_str() {
                        Some("ack") => {
                            ok += 1;
                            if let Some(sent) = v["client_id"]
                                .as_str()
                                .and_then(|c| c.split('-').nth(1))
                                .and_then(|s| s.parse::<u64>().ok())
                            {
                                let _ = h.record(now_micros().saturating_sub(sent).max(1));
                            }
                        }
                        Some("error") => errors += 1,
                        _ => continue,
                    }
                    reader_permits.add_permits(1);
                }
                Some(Ok(_)) => {}
                _ => break,
            }
        }
        (h, ok, errors)
    });
    for i in 0..count {
        permits.acquire().await?.forget();
        let frame = json!({
            "type": "chat",
            "room": room,
            "content": format!("persist {c}-{i}"),
            "client_id": format!("{run_id}{c}x{i}-{}", now_micros()),
        });
        sink.send(Message::Text(frame.to_string().into())).await?;
    }
    Ok(reader.await?)
}
