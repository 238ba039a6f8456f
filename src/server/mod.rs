//! Builds the actix server for one role, or for `all` (every role on one port), wiring
//! the shared pieces into each role's `configure` function.

mod parts;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_http::HttpService;
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::{AppConfig, Server};
use actix_web::{App, web};
use anyhow::{Context, anyhow};

use crate::auth;
use crate::clients::announce::NoAnnouncer;
use crate::clients::presence::NoPresence;
use crate::clients::{HttpAnnouncerConnector, HttpAuthConnector, HttpPresenceConnector};
use crate::config::{Settings, parse_bind};
use crate::domain::services::{Announcer, AuthApi, Connector, EventStore, PresenceApi};
use crate::front::chat::{ChatService, DirectStore};
use crate::front::{self, FrontState};
use crate::http::client_ip::TrustedProxies;
use crate::http::error::{json_config, not_found, query_config};
use crate::http::health::{self, HealthChecks};
use crate::http::{metrics, request_span};
use crate::push::PushService;
use crate::ws::{self, WsMetrics, WsState};
use parts::{
    accounts, http_store, open_database, public_key_verifier, signing_key, stop, stop_on_signal,
    verifier_for, ws_options,
};

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
    ws: Option<WsState>,
    push: Option<PushService>,
}

/// Stops a running [`Application`] the way SIGTERM does.
#[derive(Clone)]
pub struct AppHandle {
    server: actix_web::dev::ServerHandle,
    ws: Option<WsState>,
}

impl AppHandle {
    /// Answers every write taken, closes WebSockets with 1012, then stops gracefully
    /// (in-flight requests finish).
    pub async fn stop(&self) {
        stop(&self.server, self.ws.as_ref()).await;
    }

    /// Whether a stop has begun and the node takes no more writes.
    pub fn stopping(&self) -> bool {
        self.ws.as_ref().is_some_and(|ws| ws.drain.is_closed())
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
        let registry = prometheus::Registry::new();
        // Before the chat service, which is to hand new messages to it.
        let push = match (&db, role.serves_front()) {
            (Some(db), true) => Some(
                PushService::start(db.clone(), &settings.push, &registry)
                    .await
                    .context("Web Push cannot start")?,
            ),
            _ => None,
        };
        let chat = db.as_ref().map(|db| ChatService::new(db.clone()));
        let ws_state = match (&verifier, role.serves_ws()) {
            (Some(verifier), true) => {
                let store: Arc<dyn Connector<dyn EventStore>> = match &chat {
                    Some(chat) => Arc::new(DirectStore(chat.clone())),
                    None => Arc::new(http_store(settings)?),
                };
                let metrics = WsMetrics::new(&registry)?;
                let backend = db.as_ref().map(|db| db.backend());
                Some(
                    WsState::start(
                        verifier.clone(),
                        store,
                        metrics,
                        ws_options(settings, backend),
                    )
                    .map_err(|e| anyhow!("the ws role cannot start: {e}"))?,
                )
            }
            _ => None,
        };
        let front_state = match (&chat, &verifier, &push) {
            (Some(chat), Some(verifier), Some(push)) => {
                let backend: Arc<dyn Connector<dyn AuthApi>> = match &accounts {
                    Some(accounts) => Arc::new(auth::DirectAuth(accounts.clone())),
                    None => Arc::new(HttpAuthConnector {
                        base: settings.front.auth_url.clone().ok_or_else(|| {
                            anyhow!(
                                "configuration key `front.auth_url` is not set: `front` needs the \
                                 address of `auth` (e.g. CHATAPP__FRONT__AUTH_URL=http://127.0.0.1:5001)"
                            )
                        })?,
                    }),
                };
                let presence: Arc<dyn Connector<dyn PresenceApi>> =
                    match (&ws_state, &settings.front.ws_url) {
                        (Some(ws), _) => Arc::new(ws.clone()),
                        (None, Some(base)) => Arc::new(HttpPresenceConnector {
                            base: base.clone(),
                            token: settings.internal.token.clone(),
                        }),
                        (None, None) => Arc::new(NoPresence),
                    };
                let announcer: Arc<dyn Connector<dyn Announcer>> =
                    match (&ws_state, &settings.front.ws_url) {
                        (Some(ws), _) => Arc::new(ws.clone()),
                        (None, Some(base)) => Arc::new(HttpAnnouncerConnector {
                            base: base.clone(),
                            token: settings.internal.token.clone(),
                        }),
                        (None, None) => Arc::new(NoAnnouncer),
                    };
                Some(FrontState::new(
                    chat.clone(),
                    verifier.clone(),
                    backend,
                    presence,
                    announcer,
                    settings.internal.token.clone(),
                    settings.front.public_ws_url.clone(),
                    push.clone(),
                )?)
            }
            _ => None,
        };
        let auth_state = accounts;
        let proxies = TrustedProxies::new(settings.http.trusted_proxies.clone());
        let ws_for_stop = ws_state.clone();
        let checks = HealthChecks {
            role: role.name(),
            database: db,
            bus: ws_state.as_ref().and_then(|ws| ws.bus_up.clone()),
        };
        let metrics = metrics::build(role.name(), registry)?;

        let listener =
            TcpListener::bind(wanted).with_context(|| format!("cannot listen on {wanted}"))?;
        let addr = listener.local_addr()?;
        let upgrade_state = ws_state.clone();
        let make_app = move || {
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
        };
        // actix-web's HttpServer, built by hand for the one thing it does not expose: an
        // upgrade handler, which takes WebSocket sockets over from the HTTP dispatcher.
        let builder = actix_server::Server::build();
        // Idle keep-alive connections close at once on a graceful stop, as with HttpServer.
        let shutdown_signal = builder.graceful_shutdown_signal();
        let server = builder
            .shutdown_timeout(10)
            // SIGTERM/SIGINT are handled below: WebSockets are closed with 1012 first.
            .disable_signals()
            .listen("chatapp", listener, move || {
                let app = make_app()
                    .into_factory()
                    .map_err(|err: actix_web::Error| err.error_response());
                let ws = ws::upgrader(upgrade_state.as_ref());
                let signal = shutdown_signal.clone();
                HttpService::build()
                    .graceful_shutdown_signal(move || {
                        let signal = signal.clone();
                        async move { signal.notified().await }
                    })
                    .client_disconnect_timeout(std::time::Duration::from_secs(1))
                    // Small frames (acks, chat messages) must leave at once, not wait for Nagle.
                    .tcp_nodelay(true)
                    .local_addr(addr)
                    .upgrade(fn_service(move |(req, framed)| {
                        ws::upgrade(ws.clone(), req, framed)
                    }))
                    .finish(map_config(app, |_| AppConfig::default()))
                    .tcp()
            })?
            .run();
        stop_on_signal(server.handle(), ws_for_stop.clone());
        tracing::info!(
            role = role.name(),
            "{} listening on http://{addr}",
            role.name()
        );
        Ok(Self {
            addr,
            server,
            ws: ws_for_stop,
            push,
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Web Push, on a role serving `front`: what tests notify through.
    pub fn push(&self) -> Option<&PushService> {
        self.push.as_ref()
    }

    /// A handle that stops the server as SIGTERM does.
    pub fn handle(&self) -> AppHandle {
        AppHandle {
            server: self.server.handle(),
            ws: self.ws.clone(),
        }
    }

    /// Serves until SIGINT or SIGTERM (graceful: in-flight requests finish) or a stop
    /// through [`Application::handle`].
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
