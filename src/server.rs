//! Builds the actix server for one role, or for `all` (every role on one port), wiring
//! the shared pieces into each role's `configure` function.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::{Context, anyhow};

use crate::accounts::{Accounts, LimitSettings, LoginLimits, PasswordHasher, TokenLifetimes};
use crate::auth;
use crate::config::{Settings, parse_bind};
use crate::front::chat::ChatService;
use crate::front::{self, AuthBackend, FrontState, PresenceBackend};
use crate::http::client_ip::TrustedProxies;
use crate::http::error::{json_config, not_found, query_config};
use crate::http::health::{self, HealthChecks};
use crate::http::{metrics, request_span};
use crate::storage::{Db, migrations};
use crate::tokens::{self, KeyPair, TokenSigner, TokenVerifier};
use crate::ws::http_store::HttpStoreFactory;
use crate::ws::{self, ConnLimits, PersistSettings, WsMetrics, WsOptions, WsState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Front,
    Auth,
    Ws,
    All,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Front => "front",
            Role::Auth => "auth",
            Role::Ws => "ws",
            Role::All => "all",
        }
    }

    fn bind(self, settings: &Settings) -> &str {
        match self {
            Role::Front => &settings.front.bind,
            Role::Auth => &settings.auth.bind,
            Role::Ws => &settings.ws.bind,
            Role::All => &settings.all.bind,
        }
    }

    fn serves_front(self) -> bool {
        matches!(self, Role::Front | Role::All)
    }

    fn serves_auth(self) -> bool {
        matches!(self, Role::Auth | Role::All)
    }

    fn serves_ws(self) -> bool {
        matches!(self, Role::Ws | Role::All)
    }
}

/// A role's server, bound and ready to run.
pub struct Application {
    addr: SocketAddr,
    server: Server,
    hub: Option<Arc<ws::Hub>>,
}

/// Stops a running [`Application`] the way SIGTERM does.
#[derive(Clone)]
pub struct AppHandle {
    server: actix_web::dev::ServerHandle,
    hub: Option<Arc<ws::Hub>>,
}

impl AppHandle {
    /// Closes WebSockets with 1012, then stops gracefully (in-flight requests finish).
    pub async fn stop(&self) {
        if let Some(hub) = &self.hub {
            hub.close_all(ws::CLOSE_RESTART);
        }
        self.server.stop(true).await;
    }
}

impl Application {
    /// Prepares what the role needs (database, keys), binds the listener (port 0: a free
    /// one) and logs `listening on http://HOST:PORT`.
    pub async fn build(
        role: Role,
        settings: &Settings,
        bind: Option<&str>,
    ) -> anyhow::Result<Self> {
        let wanted = bind.unwrap_or(role.bind(settings));
        let wanted = parse_bind(wanted).map_err(|m| anyhow!("--bind {m}"))?;

        let keys = if role.serves_auth() {
            Some(signing_key(role, settings)?)
        } else {
            None
        };
        let verifier = match &keys {
            Some(pair) => Some(verifier_for(&[pair.verifying_key()], settings)),
            None if role.serves_front() || role.serves_ws() => Some(public_key_verifier(settings)?),
            None => None,
        };
        let db = if role.serves_front() || role.serves_auth() {
            Some(open_database(role, settings).await?)
        } else {
            None
        };

        let accounts = match (&keys, &db, &verifier) {
            (Some(pair), Some(db), Some(verifier)) => {
                Some(accounts(pair, db.clone(), verifier.clone(), settings)?)
            }
            _ => None,
        };
        let chat = db.as_ref().map(|db| ChatService::new(db.clone()));
        let registry = prometheus::Registry::new();
        let ws_state = match (&verifier, role.serves_ws()) {
            (Some(verifier), true) => {
                let store: Arc<dyn crate::domain::StoreFactory> = match &chat {
                    Some(chat) => Arc::new(chat.clone()),
                    None => Arc::new(http_store(settings)?),
                };
                let metrics = WsMetrics::new(&registry)?;
                Some(
                    WsState::start(verifier.clone(), store, metrics, ws_options(settings))
                        .map_err(|e| anyhow!("the ws role cannot start: {e}"))?,
                )
            }
            _ => None,
        };
        let front_state = match (&chat, &verifier, role.serves_front()) {
            (Some(chat), Some(verifier), true) => {
                let backend = match &accounts {
                    Some(accounts) => AuthBackend::Direct(accounts.clone()),
                    None => AuthBackend::Http(settings.front.auth_url.clone().ok_or_else(|| {
                        anyhow!(
                            "configuration key `front.auth_url` is not set: `front` needs the \
                             address of `auth` (e.g. CHATAPP__FRONT__AUTH_URL=http://127.0.0.1:5001)"
                        )
                    })?),
                };
                let presence = match (&ws_state, &settings.front.ws_url) {
                    (Some(ws), _) => {
                        let ws = ws.clone();
                        PresenceBackend::Direct(Arc::new(move |room: &str| ws.users(room)))
                    }
                    (None, Some(base)) => PresenceBackend::Http {
                        base: base.clone(),
                        token: settings.internal.token.clone(),
                    },
                    (None, None) => PresenceBackend::Unconfigured,
                };
                Some(FrontState::new(
                    chat.clone(),
                    verifier.clone(),
                    backend,
                    presence,
                    settings.internal.token.clone(),
                    settings.front.public_ws_url.clone(),
                )?)
            }
            _ => None,
        };
        let auth_state = accounts;
        let proxies = TrustedProxies::new(settings.http.trusted_proxies.clone());
        let ws_hub = ws_state.as_ref().map(|ws| ws.hub.clone());
        if let Some(hub) = &ws_hub {
            close_sockets_on_shutdown(hub.clone());
        }
        let checks = HealthChecks {
            role: role.name(),
            database: db,
            bus: ws_state.as_ref().and_then(|ws| ws.bus_up.clone()),
        };
        let metrics = metrics::build(role.name(), registry)?;

        let listener =
            TcpListener::bind(wanted).with_context(|| format!("cannot listen on {wanted}"))?;
        let addr = listener.local_addr()?;
        let server = HttpServer::new(move || {
            let mut app = App::new()
                .wrap(metrics.clone())
                .wrap(request_span::logger())
                .app_data(json_config())
                .app_data(query_config())
                .app_data(web::Data::new(proxies.clone()))
                .configure(health::configure(checks.clone()));
            if let Some(state) = &front_state {
                app = app.configure(front::configure(state.clone()));
            }
            if let Some(state) = &auth_state {
                app = app.configure(auth::configure(state.clone()));
            }
            if let Some(state) = &ws_state {
                app = app.configure(ws::configure(state.clone()));
            }
            app.default_service(web::to(not_found))
        })
        // Small frames (acks, chat messages) must leave at once, not wait for Nagle.
        .on_connect(|conn, _| {
            if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            }
        })
        .listen(listener)?
        .shutdown_timeout(10)
        .run();
        tracing::info!(
            role = role.name(),
            "{} listening on http://{addr}",
            role.name()
        );
        let hub = ws_hub;
        Ok(Self { addr, server, hub })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that stops the server as SIGTERM does.
    pub fn handle(&self) -> AppHandle {
        AppHandle {
            server: self.server.handle(),
            hub: self.hub.clone(),
        }
    }

    /// Serves until SIGINT or SIGTERM (graceful: in-flight requests finish) or a stop
    /// through [`Application::handle`].
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Opens the pool. `all` brings the schema up to date itself; the split roles refuse a
/// schema that is behind and say to run `chatapp migrate`.
async fn open_database(role: Role, settings: &Settings) -> anyhow::Result<Db> {
    let url = settings.database_url();
    let pool_size = settings.database.pool_size;
    let timeout = settings.database_timeout();
    let shown = url.redacted();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Db> {
        let db = Db::connect(&url, pool_size, timeout)
            .with_context(|| format!("cannot open the database {}", url.redacted()))?;
        let mut conn = db.get()?;
        if role == Role::All {
            for name in migrations::run_pending(&mut conn)? {
                tracing::info!(migration = %name, "applied migration");
            }
        } else {
            migrations::ensure_current(&mut conn)?;
        }
        Ok(db)
    })
    .await
    .context("database start-up was cancelled")?
    .inspect(|db| tracing::info!(database = %shown, backend = %db.backend(), "database ready"))
}

/// `ws` apart from `front`: store through front's internal API.
fn http_store(settings: &Settings) -> anyhow::Result<HttpStoreFactory> {
    let base = settings.ws.front_url.clone().ok_or_else(|| {
        anyhow!(
            "configuration key `ws.front_url` is not set: `ws` stores messages through \
             front's internal API (e.g. CHATAPP__WS__FRONT_URL=http://10.0.0.1:5000)"
        )
    })?;
    let token = settings.internal.token.clone().ok_or_else(|| {
        anyhow!(
            "configuration key `internal.token` is not set: `ws` needs the service \
             credential that front accepts (CHATAPP__INTERNAL__TOKEN, same on both)"
        )
    })?;
    Ok(HttpStoreFactory { base, token })
}

fn ws_options(settings: &Settings) -> WsOptions {
    let ws = &settings.ws;
    WsOptions {
        redis: settings
            .bus
            .redis_url
            .clone()
            .map(|url| (url, format!("{}:events", settings.bus.channel))),
        limits: ConnLimits {
            max_text_bytes: ws.max_frame_bytes,
            frames_per_second: ws.frames_per_second,
            burst: ws.burst,
            heartbeat: std::time::Duration::from_secs(ws.heartbeat_secs),
            client_timeout: std::time::Duration::from_secs(ws.client_timeout_secs),
            max_rooms: ws.max_rooms,
            abuse_limit: ws.burst.saturating_mul(2),
        },
        queue: ws.queue,
        persist: PersistSettings {
            max_batch: ws.max_batch,
            retry_delays: vec![
                std::time::Duration::from_millis(100),
                std::time::Duration::from_millis(400),
            ],
        },
        allowed_origins: ws.allowed_origins.clone(),
        internal_token: settings.internal.token.clone(),
    }
}

/// On SIGTERM or SIGINT, close every socket with 1012 so clients reconnect at once (actix
/// itself then stops accepting and drains HTTP requests).
fn close_sockets_on_shutdown(hub: Arc<ws::Hub>) {
    actix_web::rt::spawn(async move {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        tracing::info!("shutting down: closing WebSockets with 1012");
        hub.close_all(ws::CLOSE_RESTART);
    });
}

fn verifier_for(keys: &[ed25519_dalek::VerifyingKey], settings: &Settings) -> TokenVerifier {
    TokenVerifier::new(keys, &settings.jwt.issuer, settings.jwt.leeway_secs)
}

/// `front` and `ws` apart from `auth`: verify with the public key only.
fn public_key_verifier(settings: &Settings) -> anyhow::Result<TokenVerifier> {
    let path = settings.jwt.public_key_file.as_ref().ok_or_else(|| {
        anyhow!(
            "configuration key `jwt.public_key_file` is not set: point it at the public half \
             of auth's key pair (DIR/{} from `chatapp keygen DIR`)",
            tokens::PUBLIC_KEY_FILE
        )
    })?;
    let key = tokens::load_public_key(path)?;
    tracing::info!(kid = %tokens::key_id(&key), "loaded the token-verification key");
    Ok(verifier_for(&[key], settings))
}

fn accounts(
    pair: &KeyPair,
    db: Db,
    verifier: TokenVerifier,
    settings: &Settings,
) -> anyhow::Result<Arc<Accounts>> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let hasher = PasswordHasher::new(settings.auth.bcrypt_cost, cores)?;
    let signer = TokenSigner::new(pair, &settings.jwt.issuer)?;
    let limits = LoginLimits::new(LimitSettings {
        logins_per_username_per_minute: settings.auth.logins_per_username_per_minute,
        requests_per_address_per_minute: settings.auth.requests_per_address_per_minute,
    });
    let lifetimes = TokenLifetimes {
        access_secs: settings.auth.access_token_ttl_secs,
        session_secs: settings.auth.session_ttl_secs,
    };
    Ok(Accounts::new(
        db, hasher, signer, verifier, limits, lifetimes,
    ))
}

/// The token-signing key. `auth` must be given one; `all` makes one in the data directory
/// on first start.
fn signing_key(role: Role, settings: &Settings) -> anyhow::Result<KeyPair> {
    let configured = settings.auth.signing_key_file.clone();
    let path: PathBuf = match (&configured, role) {
        (Some(path), _) => path.clone(),
        (None, Role::All) => settings.data_dir.join(tokens::PRIVATE_KEY_FILE),
        (None, _) => {
            return Err(anyhow!(
                "configuration key `auth.signing_key_file` is not set: create a key pair with \
                 `chatapp keygen DIR` and set CHATAPP__AUTH__SIGNING_KEY_FILE=DIR/{}",
                tokens::PRIVATE_KEY_FILE
            ));
        }
    };
    if configured.is_none() && !path.exists() {
        let pair = KeyPair::generate()?;
        let (private, _) = pair.write_to(&settings.data_dir, false)?;
        tracing::info!(path = %private.display(), kid = %pair.key_id(), "created a token-signing key");
        return Ok(pair);
    }
    let pair = tokens::load_signing_key(&path)?;
    tracing::info!(kid = %pair.key_id(), "loaded the token-signing key");
    Ok(pair)
}
