//! Typed settings: built-in defaults, then a TOML file, then `CHATAPP__SECTION__KEY`
//! environment variables (and `DATABASE_URL`). Passed explicitly; there are no globals.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::storage::DbUrl;

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
    /// Login attempts allowed per username per minute.
    pub logins_per_username_per_minute: u32,
    /// Login and registration requests allowed per client address per minute.
    pub requests_per_address_per_minute: u32,
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
    /// Messages stored per batch at most.
    pub max_batch: usize,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InternalSettings {
    /// The service credential `ws` presents to `front`.
    pub token: Option<SecretString>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusSettings {
    /// Redis URL for fan-out between several `ws` nodes; unset: in-process.
    pub redis_url: Option<SecretString>,
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

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            database: DatabaseSettings::default(),
            all: ListenSettings {
                bind: "127.0.0.1:8080".into(),
            },
            front: FrontSettings::default(),
            auth: AuthSettings::default(),
            jwt: JwtSettings::default(),
            ws: WsSettings::default(),
            http: HttpSettings::default(),
            internal: InternalSettings::default(),
            bus: BusSettings::default(),
            log: LogSettings::default(),
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            pool_size: 8,
            connect_timeout_secs: 5,
        }
    }
}

impl Default for ListenSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
        }
    }
}

impl Default for FrontSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:5000".into(),
            auth_url: None,
            ws_url: None,
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:5001".into(),
            signing_key_file: None,
            bcrypt_cost: 12,
            access_token_ttl_secs: 900,
            session_ttl_secs: 7 * 24 * 3600,
            logins_per_username_per_minute: 10,
            requests_per_address_per_minute: 120,
        }
    }
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            public_key_file: None,
            issuer: "chatapp".into(),
            leeway_secs: 30,
        }
    }
}

impl Default for WsSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:5002".into(),
            front_url: None,
            allowed_origins: Vec::new(),
            queue: 1024,
            max_frame_bytes: 32 * 1024,
            frames_per_second: 30,
            burst: 100,
            heartbeat_secs: 30,
            client_timeout_secs: 75,
            max_rooms: 100,
            max_batch: 256,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            filter: "info".into(),
            format: LogFormat::Text,
        }
    }
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

    fn validate(&self) -> Result<(), ConfigError> {
        for (key, bind) in [
            ("all.bind", &self.all.bind),
            ("front.bind", &self.front.bind),
            ("auth.bind", &self.auth.bind),
            ("ws.bind", &self.ws.bind),
        ] {
            parse_bind(bind).map_err(|m| invalid(key, m))?;
        }
        if self.database.pool_size == 0 {
            return Err(invalid("database.pool_size", "must be at least 1"));
        }
        if self.database.connect_timeout_secs == 0 {
            return Err(invalid(
                "database.connect_timeout_secs",
                "must be at least 1",
            ));
        }
        if let Some(url) = &self.database.url {
            DbUrl::parse(url.expose_secret()).map_err(|m| invalid("database.url", m))?;
        }
        if !(4..=31).contains(&self.auth.bcrypt_cost) {
            return Err(invalid(
                "auth.bcrypt_cost",
                format!("must be between 4 and 31 (got {})", self.auth.bcrypt_cost),
            ));
        }
        if self.auth.access_token_ttl_secs < 30 {
            return Err(invalid("auth.access_token_ttl_secs", "must be at least 30"));
        }
        if self.auth.session_ttl_secs < self.auth.access_token_ttl_secs {
            return Err(invalid(
                "auth.session_ttl_secs",
                "must be at least auth.access_token_ttl_secs",
            ));
        }
        if self.auth.logins_per_username_per_minute == 0 {
            return Err(invalid(
                "auth.logins_per_username_per_minute",
                "must be at least 1",
            ));
        }
        if self.auth.requests_per_address_per_minute == 0 {
            return Err(invalid(
                "auth.requests_per_address_per_minute",
                "must be at least 1",
            ));
        }
        for (key, value, min) in [
            ("ws.queue", self.ws.queue as u64, 16),
            ("ws.max_frame_bytes", self.ws.max_frame_bytes as u64, 1024),
            (
                "ws.frames_per_second",
                u64::from(self.ws.frames_per_second),
                1,
            ),
            ("ws.burst", u64::from(self.ws.burst), 1),
            ("ws.heartbeat_secs", self.ws.heartbeat_secs, 1),
            ("ws.max_rooms", self.ws.max_rooms as u64, 1),
            ("ws.max_batch", self.ws.max_batch as u64, 1),
        ] {
            if value < min {
                return Err(invalid(key, format!("must be at least {min}")));
            }
        }
        if self.ws.client_timeout_secs <= self.ws.heartbeat_secs {
            return Err(invalid(
                "ws.client_timeout_secs",
                "must be longer than ws.heartbeat_secs",
            ));
        }
        for (key, url) in [
            ("front.auth_url", &self.front.auth_url),
            ("front.ws_url", &self.front.ws_url),
            ("ws.front_url", &self.ws.front_url),
        ] {
            if let Some(url) = url {
                check_http_url(url).map_err(|m| invalid(key, m))?;
            }
        }
        if let Some(token) = &self.internal.token
            && token.expose_secret().len() < 16
        {
            return Err(invalid("internal.token", "must be at least 16 characters"));
        }
        if let Some(url) = &self.bus.redis_url {
            let ok = url.expose_secret().starts_with("redis://")
                || url.expose_secret().starts_with("rediss://");
            if !ok {
                return Err(invalid(
                    "bus.redis_url",
                    "must start with redis:// or rediss://",
                ));
            }
        }
        if self.jwt.issuer.is_empty() {
            return Err(invalid("jwt.issuer", "must not be empty"));
        }
        Ok(())
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
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load_with_file(toml: &str, pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut file = tempfile::Builder::new()
            .suffix(".toml")
            .tempfile()
            .expect("temp file");
        std::io::Write::write_all(&mut file, toml.as_bytes()).expect("write");
        Settings::load_from(Some(file.path()), env(pairs))
    }

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        load_with_file("", pairs)
    }

    #[test]
    fn file_then_environment() {
        let toml =
            "data_dir = \"/srv/chat\"\n[auth]\nbcrypt_cost = 10\n[ws]\nbind = \"0.0.0.0:9000\"\n";
        let s = load_with_file(toml, &[("CHATAPP__AUTH__BCRYPT_COST", "11")]).expect("loads");
        assert_eq!(s.data_dir, PathBuf::from("/srv/chat"));
        assert_eq!(s.auth.bcrypt_cost, 11);
        assert_eq!(s.ws.bind, "0.0.0.0:9000");
        let e = load_with_file("[auth]\nbcrypt_cost = \"high\"\n", &[])
            .map(|_| ())
            .unwrap_err();
        assert!(e.to_string().contains("auth.bcrypt_cost"), "{e}");
        let missing = Settings::load_from(Some(Path::new("/nonexistent/chatapp.toml")), env(&[]));
        assert!(missing.is_err());
    }

    #[test]
    fn defaults_need_nothing() {
        let s = load(&[]).expect("defaults load");
        assert_eq!(s.auth.bcrypt_cost, 12);
        assert_eq!(s.all.bind, "127.0.0.1:8080");
        assert_eq!(
            s.database_url().redacted(),
            format!(
                "sqlite://{}",
                Path::new("data").join("chatapp.db").display()
            )
        );
    }

    #[test]
    fn environment_overrides_and_database_url() {
        let s = load(&[
            ("CHATAPP__AUTH__BCRYPT_COST", "4"),
            ("CHATAPP__DATA_DIR", "/tmp/x"),
            ("DATABASE_URL", "postgres://u:p@h/db"),
        ])
        .expect("loads");
        assert_eq!(s.auth.bcrypt_cost, 4);
        assert_eq!(s.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(s.database_url().redacted(), "postgres://h/db");

        let s = load(&[
            ("CHATAPP__DATABASE__URL", "sqlite:///tmp/a.db"),
            ("DATABASE_URL", "postgres://u:p@h/db"),
        ])
        .expect("loads");
        assert_eq!(s.database_url().redacted(), "sqlite:///tmp/a.db");
    }

    #[test]
    fn wrong_values_name_their_key() {
        let e = load(&[("CHATAPP__AUTH__BCRYPT_COST", "3")])
            .map(|_| ())
            .unwrap_err();
        assert!(e.to_string().contains("auth.bcrypt_cost"), "{e}");
        let e = load(&[("CHATAPP__AUTH__BCRYPT_COST", "lots")])
            .map(|_| ())
            .unwrap_err();
        assert!(e.to_string().contains("auth.bcrypt_cost"), "{e}");
        let e = load(&[("CHATAPP__WS__BIND", "nowhere")])
            .map(|_| ())
            .unwrap_err();
        assert!(e.to_string().contains("ws.bind"), "{e}");
        let e = load(&[("CHATAPP__DATABASE__URL", "mysql://root:pw@h/db")])
            .map(|_| ())
            .unwrap_err();
        assert!(e.to_string().contains("database.url"), "{e}");
        assert!(!e.to_string().contains("pw"), "{e}");
        let e = load(&[("CHATAPP__DATABSE__URL", "x")])
            .map(|_| ())
            .unwrap_err();
        assert!(e.to_string().contains("databse"), "{e}");
    }

    #[test]
    fn lists_and_numeric_strings_from_the_environment() {
        let s = load(&[
            ("CHATAPP__HTTP__TRUSTED_PROXIES", "127.0.0.1,::1"),
            ("CHATAPP__INTERNAL__TOKEN", "12345678901234567890"),
        ])
        .expect("loads");
        assert_eq!(s.http.trusted_proxies.len(), 2);
        assert_eq!(
            s.internal
                .token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
            Some("12345678901234567890".into())
        );
        let e = load(&[("CHATAPP__HTTP__TRUSTED_PROXIES", "nginx")])
            .map(|_| ())
            .unwrap_err();
        assert!(e.to_string().contains("trusted_proxies"), "{e}");
    }

    #[test]
    fn secrets_do_not_print() {
        let s = load(&[
            ("CHATAPP__INTERNAL__TOKEN", "very-secret-service-token"),
            ("DATABASE_URL", "postgres://u:hunter2@h/db"),
        ])
        .expect("loads");
        let shown = format!("{s:?}");
        assert!(!shown.contains("very-secret-service-token"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
