//! `loopback`: the machine's own ceiling for what a chat server does most, with no server
//! in the way: small frames written to many sockets and read at their other ends, over
//! loopback, by this one process. As in a chat, each socket's next write waits until its
//! reader has read the last one, so every write is also one read and one wake-up. The other
//! scenarios' deliveries per second are bounded by it, and on a shared machine whose speed
//! varies from day to day it says how fast the machine is today (run it next to them:
//! `bench/run.sh loopback`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use crate::server;

#[derive(Args)]
pub struct Opts {
    /// Socket pairs
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Frames per write: 1 is a server sending each connection one message at a time
    #[arg(long, default_value_t = 1)]
    frames_per_write: usize,
    /// Bytes per frame (the benchmarks' chat frames are about 200)
    #[arg(long, default_value_t = 200)]
    frame_bytes: usize,
    /// Seconds to measure (after one second of warm-up)
    #[arg(long, default_value_t = 5)]
    seconds: u64,
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    anyhow::ensure!(
        opts.connections > 0 && opts.frames_per_write > 0 && opts.frame_bytes > 0,
        "--connections, --frames-per-write and --frame-bytes must be at least 1"
    );
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let received = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let chunk: Arc<[u8]> = vec![b'x'; opts.frame_bytes * opts.frames_per_write].into();
    let mut tasks = Vec::with_capacity(2 * opts.connections);
    for _ in 0..opts.connections {
        let mut reader = TcpStream::connect(address).await?;
        let (mut writer, _) = listener.accept().await?;
        writer.set_nodelay(true)?;
        let read_all = Arc::new(Notify::new());
        let (received, done, write_len) = (received.clone(), read_all.clone(), chunk.len());
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut pending = write_len;
            while let Ok(n @ 1..) = reader.read(&mut buf).await {
                received.fetch_add(n as u64, Ordering::Relaxed);
                pending = pending.saturating_sub(n);
                if pending == 0 {
                    pending = write_len;
                    done.notify_one();
                }
            }
        }));
        let (chunk, stop) = (chunk.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if writer.write_all(&chunk).await.is_err() {
                    break;
                }
                read_all.notified().await;
            }
        }));
    }
    let me = [std::process::id()];
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (bytes_before, cpu_before, started) = (
        received.load(Ordering::Relaxed),
        server::sample(&me),
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs(opts.seconds)).await;
    let bytes = received.load(Ordering::Relaxed) - bytes_before;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = server::sample(&me);
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.abort();
    }
    let frames = bytes / opts.frame_bytes as u64;
    let cpu = match (cpu_before, cpu_after) {
        (Some(b), Some(a)) => format!(
            "; {:.2} µs CPU per frame (this process)",
            (a.cpu_seconds - b.cpu_seconds) * 1e6 / frames.max(1) as f64
        ),
        _ => String::new(),
    };
    println!(
        "scenario: loopback, {} socket pairs, {} frame(s) of {} bytes per write",
        opts.connections, opts.frames_per_write, opts.frame_bytes
    );
    println!(
        "loopback: {frames} frames in {elapsed:.2} s = {:.0} frames/s{cpu}",
        frames as f64 / elapsed
    );
    Ok(())
}
