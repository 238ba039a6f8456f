//! Typed settings: built-in defaults, then a TOML file, then `CHATAPP__SECTION__KEY`
//! environment variables (and `DATABASE_URL`). Passed explicitly; there are no globals.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::storage::DbUrl;

mod defaults;
mod validate;

/// The file read when `--config` is not given, if it exists in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "chatapp.toml";

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where the default SQLite file and generated keys live.
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    pub all: ListenSettings,
    pub front: FrontSettings,
    pub auth: AuthSettings,
    pub jwt: JwtSettings,
    pub ws: WsSettings,
    pub http: HttpSettings,
    pub internal: InternalSettings,
    pub bus: BusSettings,
    pub push: PushSettings,
    pub log: LogSettings,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://…`, `sqlite://PATH` or a plain path; unset: `<data_dir>/chatapp.db`.
    pub url: Option<SecretString>,
    /// Connections in the pool, and so the most database calls at once.
    pub pool_size: u32,
    /// How long a request waits for a connection before the database counts as down.
    pub connect_timeout_secs: u64,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenSettings {
    pub bind: String,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FrontSettings {
    pub bind: String,
    /// Base URL where `front` reaches `auth` when they run as separate processes.
    pub auth_url: Option<String>,
    /// Base URL of a `ws` node, for `GET /api/presence` when they run apart.
    pub ws_url: Option<String>,
    /// The WebSocket URL browsers use (`wss://chat.example.com/ws/chat`); unset: the
    /// page's own host, `ws://` or `wss://` as the page was loaded.
    pub public_ws_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    pub bind: String,
    /// Ed25519 private key (PKCS#8 PEM); `all` creates `<data_dir>/jwt_ed25519.pem` if unset.
    pub signing_key_file: Option<PathBuf>,
    /// bcrypt cost for new password hashes.
    pub bcrypt_cost: u32,
    /// Lifetime of an access token.
    pub access_token_ttl_secs: u64,
    /// Lifetime of the web UI's session (the HttpOnly cookie).
    pub session_ttl_secs: u64,
    /// Failed sign-ins an address, or a (username, address) pair, may make before each
    /// further try waits (1 s, 2 s, 4 s, … up to 15 minutes).
    pub free_login_failures: u32,
    /// Login and registration requests allowed per client address per minute.
    pub requests_per_address_per_minute: u32,
    /// Who may register after the first account (the administrator): `invite` (the join
    /// code or a one-person invite), `open` or `closed`.
    pub registration: crate::domain::Registration,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Proxies (nginx) whose `X-Forwarded-For` is believed; from anyone else it is ignored.
    /// In the environment: a comma-separated list.
    #[serde(deserialize_with = "list_or_commas")]
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JwtSettings {
    /// The public key (PEM) matching `auth.signing_key_file`; `all` derives it.
    pub public_key_file: Option<PathBuf>,
    /// The `iss` claim tokens carry and verifiers require.
    pub issuer: String,
    /// Clock skew tolerated when checking `exp`, in seconds.
    pub leeway_secs: u64,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WsSettings {
    pub bind: String,
    /// Base URL of `front`'s internal API, for a `ws` running apart from `front`.
    pub front_url: Option<String>,
    /// Origins (`https://chat.example.com`) allowed to open a socket; empty: same host only.
    #[serde(deserialize_with = "list_or_commas")]
    pub allowed_origins: Vec<String>,
    /// Frames queued per connection before it counts as a slow reader.
    pub queue: usize,
    /// The largest text frame a client may send, in bytes.
    pub max_frame_bytes: usize,
    /// Sustained frames per second per connection.
    pub frames_per_second: u32,
    /// Burst of frames per connection.
    pub burst: u32,
    /// Seconds between pings.
    pub heartbeat_secs: u64,
    /// Seconds of silence after which a connection is dropped.
    pub client_timeout_secs: u64,
    /// Rooms one connection may join.
    pub max_rooms: usize,
    /// Connections one user may hold on a node at once.
    pub max_connections_per_user: usize,
    /// Connections one client address (IPv6: its /64) may hold on a node at once.
    pub max_connections_per_address: usize,
    /// Messages stored per batch at most.
    pub max_batch: usize,
    /// Batches stored at once, each for its own share of the rooms (`all` on SQLite: 1).
    /// More than one pays when each batch waits long on the network (front far away); on
    /// one machine the extra, smaller batches only cost CPU (docs/BENCHMARKS.md).
    pub save_lanes: usize,
    /// Seconds a `ws` apart from `front` waits for one save before its outcome counts as
    /// unknown and the batch is sent again (same client ids: nothing is stored twice).
    pub save_timeout_secs: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InternalSettings {
    /// The service credential `ws` presents to `front`.
    pub token: Option<SecretString>,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusSettings {
    /// Redis URL for fan-out between several `ws` nodes; unset: in-process.
    pub redis_url: Option<SecretString>,
    /// Prefix of the Redis channel and keys: nodes that share it share a chat.
    pub channel: String,
    /// Seconds a node's presence entries outlive its last refresh (every third of this):
    /// how long a user of a node that died still shows online elsewhere.
    pub presence_ttl_secs: u64,
}

impl Default for BusSettings {
    fn default() -> Self {
        Self {
            redis_url: None,
            channel: "chatapp".into(),
            presence_ttl_secs: 30,
        }
    }
}

/// Web Push (`front`, `all`): where pushes may go and how hard to try.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushSettings {
    /// The VAPID `sub` claim: how a push service reaches the operator (`mailto:` or
    /// `https:`). Unset: no `sub` (some push services, Apple's among them, refuse that).
    pub subject: Option<String>,
    /// Hosts a subscription's endpoint may name: each entry matches itself and its
    /// subdomains. Empty: any host (the server then POSTs wherever a user points it).
    #[serde(deserialize_with = "list_or_commas")]
    pub allowed_hosts: Vec<String>,
    /// Accept `http://` endpoints (a local push service in tests); never in production.
    pub allow_http: bool,
    /// Notifications waiting for the push worker; past it, new ones are dropped (counted).
    pub queue: usize,
    /// Pushes being delivered or waiting to retry, at most; the worker takes no more
    /// notifications from the queue meanwhile.
    pub pending: usize,
    /// Requests to push services in flight at once.
    pub concurrency: usize,
    /// Pushes waiting for one endpoint (whose earlier push is still trying); past it,
    /// that endpoint's new pushes are dropped, so one slow endpoint cannot fill `pending`.
    pub per_endpoint: usize,
    /// How long one request to a push service may take.
    pub timeout_secs: u64,
    /// Tries per push (the first included) on a timeout, a 5xx or a 429.
    pub attempts: u32,
    /// The wait before the second try; it doubles for each later one.
    pub retry_base_ms: u64,
    /// The longest wait between tries, `Retry-After` included.
    pub retry_max_secs: u64,
    /// The `TTL` header: how long a push service keeps a push for an offline browser.
    pub ttl_secs: u32,
    /// Subscriptions one user may keep; a new one past it replaces their oldest.
    pub max_subscriptions_per_user: usize,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// A tracing filter such as `info` or `chatapp=debug,actix_web=info`; `RUST_LOG` wins.
    pub filter: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// A setting that could not be read or does not make sense; names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration key `{key}` {message}")]
    Invalid { key: &'static str, message: String },
}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

impl Settings {
    /// Reads the settings from the process's own environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars().collect())
    }

    /// Reads the settings with an explicit environment (tests inject theirs).
    ///
    /// `file`: the TOML file named by `--config` (must exist), else `chatapp.toml` if present.
    pub fn load_from(
        file: Option<&Path>,
        env: HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut builder = config::Config::builder();
        builder = match file {
            Some(path) => builder.add_source(
                config::File::from(path)
                    .format(config::FileFormat::Toml)
                    .required(true),
            ),
            None => builder.add_source(
                config::File::with_name(DEFAULT_CONFIG_FILE)
                    .format(config::FileFormat::Toml)
                    .required(false),
            ),
        };
        let database_url = env.get("DATABASE_URL").cloned();
        let has_own_url = env.contains_key("CHATAPP__DATABASE__URL");
        let chatapp_env: HashMap<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("CHATAPP__"))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("CHATAPP")
                .prefix_separator("__")
                .separator("__")
                // Values stay strings (a numeric token must not become a float);
                // serde converts them to the field's type.
                .try_parsing(false)
                .source(Some(chatapp_env)),
        );
        if let (Some(url), false) = (database_url, has_own_url) {
            builder = builder.set_override("database.url", url)?;
        }
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// The database to use: `database.url`, else the SQLite file in the data directory.
    pub fn database_url(&self) -> DbUrl {
        match &self.database.url {
            Some(url) => DbUrl::parse(url.expose_secret())
                .unwrap_or_else(|_| DbUrl::sqlite(&self.default_sqlite_path())),
            None => DbUrl::sqlite(&self.default_sqlite_path()),
        }
    }

    pub fn database_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.database.connect_timeout_secs)
    }

    pub fn default_sqlite_path(&self) -> PathBuf {
        self.data_dir.join("chatapp.db")
    }
}

/// A list from TOML (`["a", "b"]`) or from the environment (`a,b`).
fn list_or_commas<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        Text(String),
    }
    let items: Vec<String> = match Raw::deserialize(deserializer)? {
        Raw::List(items) => items,
        Raw::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    items
        .iter()
        .map(|item| {
            item.parse()
                .map_err(|e| serde::de::Error::custom(format!("{item:?}: {e}")))
        })
        .collect()
}

/// Parses `HOST:PORT` (an IP address or `localhost`).
pub fn parse_bind(bind: &str) -> Result<SocketAddr, String> {
    let normalized = match bind.strip_prefix("localhost:") {
        Some(port) => format!("127.0.0.1:{port}"),
        None => bind.to_owned(),
    };
    normalized.parse().map_err(|_| {
        format!("must be HOST:PORT with an IP address, e.g. 127.0.0.1:8080 (got {bind:?})")
    })
}

fn check_http_url(raw: &str) -> Result<(), String> {
    let url = url::Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// URL".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
