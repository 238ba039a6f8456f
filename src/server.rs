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
use crate::front::{self, AuthBackend, FrontState};
use crate::http::client_ip::TrustedProxies;
use crate::http::error::{json_config, not_found, query_config};
use crate::http::health::{self, HealthChecks};
use crate::http::{metrics, request_span};
use crate::storage::{Db, migrations};
use crate::tokens::{self, KeyPair, TokenSigner, TokenVerifier};
use crate::ws::{self, WsState};

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
        let verifier = match (&keys, role.serves_front()) {
            (Some(pair), _) => Some(verifier_for(&[pair.verifying_key()], settings)),
            (None, true) => Some(public_key_verifier(settings)?),
            (None, false) => None,
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
        let front_state = match (&db, &verifier, role.serves_front()) {
            (Some(db), Some(verifier), true) => {
                let backend = match &accounts {
                    Some(accounts) => AuthBackend::Direct(accounts.clone()),
                    None => AuthBackend::Http(settings.front.auth_url.clone().ok_or_else(|| {
                        anyhow!(
                            "configuration key `front.auth_url` is not set: `front` needs the \
                             address of `auth` (e.g. CHATAPP__FRONT__AUTH_URL=http://127.0.0.1:5001)"
                        )
                    })?),
                };
                Some(FrontState::new(db.clone(), verifier.clone(), backend)?)
            }
            _ => None,
        };
        let auth_state = accounts;
        let proxies = TrustedProxies::new(settings.http.trusted_proxies.clone());
        let ws_state = role.serves_ws().then(WsState::default);
        let checks = HealthChecks {
            role: role.name(),
            database: db,
        };
        let metrics = metrics::build(role.name())?;

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
        .listen(listener)?
        .shutdown_timeout(10)
        .run();
        tracing::info!(
            role = role.name(),
            "{} listening on http://{addr}",
            role.name()
        );
        Ok(Self { addr, server })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that stops the server (gracefully, or not).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
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
