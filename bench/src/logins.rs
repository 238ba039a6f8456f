//! `logins`: signs in as fast as `--concurrency` clients can, and probes `/healthz`
//! meanwhile: how much bcrypt slows everything else.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use crate::stats::{histogram, latency_line};
use crate::{Common, server, setup};

#[derive(Args)]
pub struct Opts {
    /// Logins in flight at once
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value_t = 5000)]
    user_offset: usize,
}

pub fn run(common: &Common, opts: Opts) -> anyhow::Result<()> {
    eprintln!("setting up {} users…", opts.concurrency);
    setup::tokens(common, opts.user_offset, opts.concurrency)?;
    let stop = AtomicBool::new(false);
    let (ok, failed) = (AtomicU64::new(0), AtomicU64::new(0));
    let before = server::sample(&common.server_pid);
    let started = Instant::now();
    let probe = std::thread::scope(|scope| {
        for i in 0..opts.concurrency {
            let (stop, ok, failed) = (&stop, &ok, &failed);
            let name = format!("{}{}", common.user_prefix, opts.user_offset + i);
            scope.spawn(move || {
                let agent = ureq::AgentBuilder::new().build();
                while !stop.load(Ordering::Relaxed) {
                    let body = json!({"username": name, "password": setup::PASSWORD});
                    match agent
                        .post(&format!("{}/auth/api/login", common.url))
                        .send_json(body)
                    {
                        Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            });
        }
        let prober = scope.spawn(|| {
            let agent = ureq::AgentBuilder::new().build();
            let mut h = histogram();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                if agent.get(&format!("{}/healthz", common.url)).call().is_ok() {
                    let _ = h.record(t.elapsed().as_micros() as u64);
                }
                // Probe pacing, not synchronisation: about 100 probes a second.
                std::thread::sleep(Duration::from_millis(10));
            }
            h
        });
        std::thread::sleep(Duration::from_secs(opts.seconds));
        stop.store(true, Ordering::Relaxed);
        prober.join().unwrap_or_else(|_| histogram())
    });
    let elapsed = started.elapsed().as_secs_f64();
    let after = server::sample(&common.server_pid);
    let logins = ok.load(Ordering::Relaxed);
    println!(
        "scenario: logins, {} at once for {} s",
        opts.concurrency, opts.seconds
    );
    println!(
        "logins: {logins} in {elapsed:.1} s = {:.1} logins/s ({} failed)",
        logins as f64 / elapsed,
        failed.load(Ordering::Relaxed)
    );
    println!("/healthz meanwhile: {}", latency_line(&probe));
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "server: {:.2} CPU-s ({:.0}% of one core)",
            a.cpu_seconds - b.cpu_seconds,
            (a.cpu_seconds - b.cpu_seconds) * 100.0 / elapsed
        );
    }
    Ok(())
}
