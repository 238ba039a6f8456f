//! chatapp-bench: drives a chatapp (or any server of the original ChatApp's shape:
//! `?token=` WebSocket, `{"type": "chat", "room", "content"}` frames) and reports
//! throughput, latency from a timestamp inside each message, and the server's CPU and memory.

mod fanout;
mod logins;
mod persist;
mod server;
mod setup;
mod stats;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "chatapp-bench", about = "Load generator for chatapp")]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Args, Clone)]
pub struct Common {
    /// Base URL of front/auth (or `all`)
    #[arg(long, default_value = "http://127.0.0.1:8080", global = true)]
    pub url: String,
    /// Base URL of the ws role [default: --url]
    #[arg(long, global = true)]
    pub ws_url: Option<String>,
    /// PID of the server process, for its CPU-seconds and memory
    #[arg(long, global = true)]
    pub server_pid: Option<u32>,
    /// Read access tokens from this file (one per line) instead of registering users
    #[arg(long, global = true)]
    pub tokens: Option<std::path::PathBuf>,
    /// Prefix of the bench users' names
    #[arg(long, default_value = "bench", global = true)]
    pub user_prefix: String,
    /// Load-generator threads
    #[arg(long, default_value_t = 1, global = true)]
    pub threads: usize,
}

impl Common {
    pub fn ws_base(&self) -> String {
        self.ws_url
            .clone()
            .unwrap_or_else(|| self.url.clone())
            .replacen("http", "ws", 1)
    }
}

#[derive(Subcommand)]
enum Scenario {
    /// One room, many receivers: deliveries per second and latency
    Fanout(fanout::Opts),
    /// Acked messages per second into the store, with ack latency
    Persist(persist::Opts),
    /// Logins per second at the server's bcrypt cost, and /healthz latency meanwhile
    Logins(logins::Opts),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.common.threads.max(1))
        .enable_all()
        .build()?;
    match cli.scenario {
        Scenario::Fanout(opts) => runtime.block_on(fanout::run(&cli.common, opts)),
        Scenario::Persist(opts) => runtime.block_on(persist::run(&cli.common, opts)),
        Scenario::Logins(opts) => logins::run(&cli.common, opts),
    }
}
