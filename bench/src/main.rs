//! chatapp-bench: drives a chatapp (or any server of the original ChatApp's shape:
//! `?token=` WebSocket, `{"type": "chat", "room", "content"}` frames) and reports
//! throughput, latency from a timestamp inside each message, and the server's CPU and memory.

mod fanout;
mod idle;
mod logins;
mod loopback;
mod persist;
mod rooms;
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
    /// Base URL(s) of the ws role, comma-separated: receivers are spread over them
    /// [default: --url]
    #[arg(long, global = true, value_delimiter = ',')]
    pub ws_url: Vec<String>,
    /// PID(s) of the server processes, comma-separated, for their CPU-seconds and memory
    #[arg(long, global = true, value_delimiter = ',')]
    pub server_pid: Vec<u32>,
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
    /// The WebSocket base for the `i`th connection (round-robin over `--ws-url`).
    pub fn ws_base(&self, i: usize) -> String {
        let bases = if self.ws_url.is_empty() {
            std::slice::from_ref(&self.url)
        } else {
            &self.ws_url[..]
        };
        bases[i % bases.len()].replacen("http", "ws", 1)
    }
}

#[derive(Subcommand)]
enum Scenario {
    /// One room, many receivers: deliveries per second and latency
    Fanout(fanout::Opts),
    /// Many small rooms, every client sending and receiving, at a rising rate: the knee
    Rooms(rooms::Opts),
    /// Acked messages per second into the store, with ack latency
    Persist(persist::Opts),
    /// Logins per second at the server's bcrypt cost, and /healthz latency meanwhile
    Logins(logins::Opts),
    /// Many idle connections: the server's memory per connection
    Idle(idle::Opts),
    /// No server: small frames over loopback sockets, the machine's own ceiling today
    Loopback(loopback::Opts),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.common.threads.max(1))
        .enable_all()
        .build()?;
    match cli.scenario {
        Scenario::Fanout(opts) => runtime.block_on(fanout::run(&cli.common, opts)),
        Scenario::Rooms(opts) => runtime.block_on(rooms::run(&cli.common, opts)),
        Scenario::Persist(opts) => runtime.block_on(persist::run(&cli.common, opts)),
        Scenario::Logins(opts) => logins::run(&cli.common, opts),
        Scenario::Idle(opts) => runtime.block_on(idle::run(&cli.common, opts)),
        Scenario::Loopback(opts) => runtime.block_on(loopback::run(opts)),
    }
}
