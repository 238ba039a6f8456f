//! The `ws` role: the WebSocket endpoint under `/ws`. It has no database: it stores room
//! events through an [`EventStore`] (front's own service inside `all`, front's internal API
//! over HTTP when split) and fans them out through a [`Bus`].
//!
//! - `transport/`: the handshake, the socket taken over from actix-http, outbound queues;
//! - `chat/`: the protocol's client frames, one task per connection, the persister;
//! - `bus/`: fan-out to this node (`local`) or every node (`redis`), through the sequencer;
//! - `hub.rs`: this node's rooms and their subscribers; `frames.rs`: what the server sends.

pub mod bus;
pub mod chat;
pub mod frames;
pub mod hub;
mod internal;
mod metrics;
mod registry;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;

pub use bus::redis::RedisOptions;
pub use bus::{Bus, LocalBus};
pub use chat::{ConnLimits, PersistSettings};
pub use hub::Hub;
pub use metrics::WsMetrics;

use crate::domain::services::{Connector, EventStore};
use crate::http::ApiError;
use crate::http::client_ip::TrustedProxies;
use crate::tokens::{TokenKind, TokenVerifier};
use chat::{Connection, Drain, SaveLanes};
pub use hub::ConnCaps;
use transport::{SocketSettings, upgrade::refuse};

/// Close code for a missing, expired, forged or misdirected token.
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
/// Close code for a connection refused or ended by a limit (too many connections, a
/// client that keeps flooding).
pub const CLOSE_POLICY: u16 = 1008;
/// Close code on shutdown: clients reconnect at once.
pub const CLOSE_RESTART: u16 = 1012;
/// The longest a stopping node waits for its persister to answer every write it took.
const DRAIN_WAIT: Duration = Duration::from_secs(15);

/// What `ws` needs to serve. Cheap to clone.
#[derive(Clone)]
pub struct WsState {
    pub hub: Arc<Hub>,
    pub bus: Arc<dyn Bus>,
    /// With a Redis bus: whether Redis is reachable (for `/healthz`).
    pub bus_up: Option<Arc<std::sync::atomic::AtomicBool>>,
    pub verifier: TokenVerifier,
    pub store: Arc<dyn Connector<dyn EventStore>>,
    pub jobs: SaveLanes,
    pub drain: Arc<Drain>,
    pub limits: ConnLimits,
    pub socket: SocketSettings,
    /// Origins allowed to open a socket; empty: the page's own host only.
    pub allowed_origins: Arc<Vec<String>>,
    pub internal_token: Option<SecretString>,
    /// Proxies (nginx) whose `X-Forwarded-For` names the client, for the per-address cap.
    pub trusted_proxies: TrustedProxies,
}

pub struct WsOptions {
    /// Redis for fan-out and presence between nodes (`bus.*`); none: one node.
    pub redis: Option<RedisOptions>,
    pub limits: ConnLimits,
    /// Each connection's outbound queue, in frames.
    pub queue: usize,
    pub persist: PersistSettings,
    pub allowed_origins: Vec<String>,
    pub internal_token: Option<SecretString>,
    /// Connections per user and per client address.
    pub caps: ConnCaps,
    pub trusted_proxies: TrustedProxies,
}

impl WsState {
    /// Builds the hub, joins the bus, and starts the persister's lanes on a thread of their
    /// own.
    pub fn start(
        verifier: TokenVerifier,
        store: Arc<dyn Connector<dyn EventStore>>,
        metrics: WsMetrics,
        options: WsOptions,
    ) -> Result<Self, String> {
        let hub = Arc::new(Hub::new(metrics.clone(), options.caps));
        let (bus, bus_up): (Arc<dyn Bus>, _) = match &options.redis {
            Some(redis) => {
                let redis = bus::redis::RedisBus::start(redis.clone(), hub.clone())?;
                let flag = redis.health_flag();
                (redis, Some(flag))
            }
            None => (Arc::new(LocalBus::new(hub.clone())), None),
        };
        let (jobs, lanes) = SaveLanes::new(options.persist.lanes, 8192);
        let arbiter = actix_rt::Arbiter::new();
        let (connector, persist_bus, persist) = (store.clone(), bus.clone(), options.persist);
        arbiter.spawn_fn(move || {
            let running: Vec<_> = lanes
                .into_iter()
                .map(|rx| {
                    actix_web::rt::spawn(chat::persister::run(
                        connector.connect(),
                        rx,
                        persist_bus.clone(),
                        metrics.clone(),
                        persist.clone(),
                    ))
                })
                .collect();
            actix_web::rt::spawn(async move {
                for lane in running {
                    let _ = lane.await;
                }
                actix_rt::Arbiter::current().stop();
            });
        });
        let socket = SocketSettings {
            queue: options.queue,
            max_frame: options.limits.max_text_bytes * 4,
            write_timeout: options.limits.client_timeout,
        };
        Ok(Self {
            hub,
            bus,
            bus_up,
            verifier,
            store,
            jobs,
            drain: Arc::new(Drain::default()),
            limits: options.limits,
            socket,
            allowed_origins: Arc::new(options.allowed_origins),
            internal_token: options.internal_token,
            trusted_proxies: options.trusted_proxies,
        })
    }

    /// The users online in a room on every node (for `front`'s presence).
    pub async fn users(&self, room: &str) -> Vec<String> {
        let local = self.hub.users(room);
        match self.bus.online(room) {
            Some(everywhere) => chat::merge_users(local, everywhere).await,
            None => local,
        }
    }

    /// A stopping node: takes no more writes, answers every write it took (stored and
    /// announced, or `not_saved`), then closes every socket with 1012 (clients reconnect
    /// at once) and waits, bounded, until their close frames are out.
    pub async fn shut_down(&self) {
        let pending = self.drain.close(DRAIN_WAIT).await;
        if pending > 0 {
            tracing::warn!(pending, "writes still unanswered at shutdown");
        }
        self.hub.close_all(CLOSE_RESTART);
        self.hub.sockets.drained(Duration::from_secs(5)).await;
    }
}

/// Mounts `ws`'s routes.
pub fn configure(state: WsState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(state))
            .route("/ws/chat", web::get().to(not_a_websocket))
            .route("/ws/internal/presence", web::get().to(internal::presence))
            .route("/ws/internal/events", web::post().to(internal::announce))
            .route(
                "/ws/internal/accounts/close",
                web::post().to(internal::close_account),
            )
            .route(
                "/ws/internal/sessions/close",
                web::post().to(internal::close_sessions),
            );
    }
}

/// `GET /ws/chat` without an upgrade: not a WebSocket.
async fn not_a_websocket() -> Result<HttpResponse, ApiError> {
    Err(ApiError::BadRequest(
        "GET /ws/chat must be a WebSocket upgrade".into(),
    ))
}

/// What a worker's upgrade handler holds: the state, and this worker's store handle.
pub type Upgrader = Option<(WsState, Arc<dyn EventStore>)>;

/// This worker's [`Upgrader`] (`None`: this role serves no WebSocket).
pub fn upgrader(state: Option<&WsState>) -> Upgrader {
    state.map(|state| (state.clone(), state.store.connect()))
}

/// Every request that asks for a protocol upgrade, on every role: actix-http hands over the
/// socket with it. `GET /ws/chat?token=<access token>` becomes a chat connection on a `ws`
/// node; anything else is answered and closed.
pub async fn upgrade(
    state: Upgrader,
    req: actix_http::Request,
    framed: actix_codec::Framed<tokio::net::TcpStream, actix_http::h1::Codec>,
) -> Result<(), actix_web::Error> {
    use tokio::io::AsyncWriteExt;
    let parts = framed.into_parts();
    let mut io = parts.io;
    if !parts.write_buf.is_empty() {
        // Answers to requests pipelined ahead of the upgrade go out first.
        io.write_all(&parts.write_buf).await?;
    }
    let Some((state, store)) = state.filter(|_| req.path() == "/ws/chat") else {
        let refused = ApiError::NotFound(format!("no route for {}", req.path()));
        return Ok(refuse(io, refused).await?);
    };
    let Some((outbox, inbound)) = transport::upgrade::accept(
        io,
        parts.read_buf,
        req.head(),
        &state.allowed_origins,
        state.socket,
        &state.hub.sockets,
    )
    .await?
    else {
        return Ok(());
    };
    let token = url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned());
    let claims = token.and_then(|t| state.verifier.verify(&t, TokenKind::Access).ok());
    let Some((claims, user_id)) = claims.and_then(|c| c.user_id().ok().map(|id| (c, id))) else {
        outbox.close(CLOSE_UNAUTHORIZED);
        return Ok(());
    };
    let username: Arc<str> = Arc::from(claims.username.as_str());
    let address = req
        .peer_addr()
        .and_then(|peer| {
            state
                .trusted_proxies
                .client_ip_of(peer.ip(), &req.head().headers)
        })
        .map(crate::http::client_ip::address_key);
    let id = match state
        .hub
        .connect(&username, claims.sid.as_deref(), address, &outbox)
    {
        Ok(id) => id,
        Err(too_many) => {
            let whose = match too_many {
                hub::TooMany::User => "this account",
                hub::TooMany::Address => "this address",
            };
            let _ = outbox.send(frames::error(
                frames::ErrorCode::RateLimited,
                &format!("too many connections from {whose}; close some and try again"),
                None,
            ));
            outbox.close_after_queue(CLOSE_POLICY);
            return Ok(());
        }
    };
    let connection = Connection {
        id,
        user_id,
        username,
        outbox,
        hub: state.hub.clone(),
        bus: state.bus.clone(),
        store,
        jobs: state.jobs.clone(),
        drain: state.drain.clone(),
        limits: state.limits.clone(),
        typed: Default::default(),
    };
    actix_web::rt::spawn(connection.run(inbound));
    Ok(())
}

/// Reads one query parameter.
fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
