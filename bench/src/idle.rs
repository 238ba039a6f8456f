//! `idle`: many connections that join a room and then only answer pings: the server's
//! resident memory per connection.

use std::time::{Duration, Instant};

use clap::Args;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::fanout::connect;
use crate::{Common, server, setup};

#[derive(Args)]
pub struct Opts {
    /// Connections to open (the file-descriptor limit of both processes bounds it)
    #[arg(long, default_value_t = 10_000)]
    clients: usize,
    /// Distinct users the connections sign in as
    #[arg(long, default_value_t = 100)]
    users: usize,
    /// Seconds to hold the connections before measuring
    #[arg(long, default_value_t = 5)]
    settle_secs: u64,
    #[arg(long, default_value_t = 9000)]
    user_offset: usize,
}

pub async fn run(common: &Common, opts: Opts) -> anyhow::Result<()> {
    let tokens = setup::tokens(common, opts.user_offset, opts.users.max(1))?;
    let before = server::sample(&common.server_pid);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(opts.clients);
    for i in 0..opts.clients {
        let mut ws = connect(&common.ws_base(i), &tokens[i % tokens.len()]).await?;
        ws.send(Message::Text(
            json!({"type": "join", "room": "general"})
                .to_string()
                .into(),
        ))
        .await?;
        // Reading keeps the connection alive: tungstenite answers pings as it reads.
        tasks.push(tokio::spawn(async move {
            while let Some(Ok(_)) = ws.next().await {}
        }));
        if (i + 1) % 5000 == 0 {
            eprintln!("{} connections open", i + 1);
        }
    }
    let opened = started.elapsed();
    tokio::time::sleep(Duration::from_secs(opts.settle_secs)).await;
    let after = server::sample(&common.server_pid);
    println!(
        "scenario: idle, {} connections (joined to one room), opened in {:.1} s",
        opts.clients,
        opened.as_secs_f64()
    );
    if let (Some(b), Some(a)) = (before, after) {
        let grown = a.rss_kib.saturating_sub(b.rss_kib) as f64;
        println!(
            "server RSS: {} MiB before, {} MiB with the connections = {:.2} KiB per connection",
            b.rss_kib / 1024,
            a.rss_kib / 1024,
            grown / opts.clients.max(1) as f64
        );
    }
    for task in tasks {
        task.abort();
    }
    Ok(())
}
