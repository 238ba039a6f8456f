//! The `ws` role: the WebSocket endpoint under `/ws`. It has no database: it persists
//! through a [`MessageStore`] (front's own service inside `all`, front's internal API over
//! HTTP when split) and fans out through a [`Bus`].

mod bus;
mod connection;
mod frames;
pub mod http_store;
mod hub;
mod metrics;
mod persister;
mod redis_bus;
mod redis_commands;
mod redis_presence;
mod sequencer;
mod socket;

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;

pub use bus::{Bus, LocalBus};
pub use connection::ConnLimits;
pub use hub::Hub;
pub use metrics::WsMetrics;
pub use persister::PersistSettings;
pub use redis_bus::RedisOptions;

use crate::domain::{MessageStore, StoreFactory};
use crate::http::ApiError;
use crate::tokens::{TokenKind, TokenVerifier};
use connection::Connection;
use persister::SaveLanes;

/// Close code for a missing, expired, forged or misdirected token.
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
/// Close code on shutdown: clients reconnect at once.
pub const CLOSE_RESTART: u16 = 1012;

/// What `ws` needs to serve. Cheap to clone.
#[derive(Clone)]
pub struct WsState {
    pub hub: Arc<Hub>,
    pub bus: Arc<dyn Bus>,
    /// With a Redis bus: whether Redis is reachable (for `/healthz`).
    pub bus_up: Option<Arc<std::sync::atomic::AtomicBool>>,
    pub verifier: TokenVerifier,
    pub store: Arc<dyn StoreFactory>,
    pub jobs: SaveLanes,
    pub limits: ConnLimits,
    pub queue: usize,
    /// Origins allowed to open a socket; empty: the page's own host only.
    pub allowed_origins: Arc<Vec<String>>,
    pub internal_token: Option<SecretString>,
}

pub struct WsOptions {
    /// Redis for fan-out and presence between nodes (`bus.*`); none: one node.
    pub redis: Option<RedisOptions>,
    pub limits: ConnLimits,
    pub queue: usize,
    pub persist: PersistSettings,
    pub allowed_origins: Vec<String>,
    pub internal_token: Option<SecretString>,
}

impl WsState {
    /// Builds the hub, joins the bus, and starts the persister's lanes on a thread of their
    /// own.
    pub fn start(
        verifier: TokenVerifier,
        store: Arc<dyn StoreFactory>,
        metrics: WsMetrics,
        options: WsOptions,
    ) -> Result<Self, String> {
        let hub = Arc::new(Hub::new(metrics.clone()));
        let (bus, bus_up): (Arc<dyn Bus>, _) = match &options.redis {
            Some(redis) => {
                let redis = redis_bus::RedisBus::start(redis.clone(), hub.clone())?;
                let flag = redis.health_flag();
                (redis, Some(flag))
            }
            None => (Arc::new(LocalBus(hub.clone())), None),
        };
        let (jobs, lanes) = SaveLanes::new(options.persist.lanes, 8192);
        let arbiter = actix_rt::Arbiter::new();
        let (factory, persist_bus, persist) = (store.clone(), bus.clone(), options.persist);
        arbiter.spawn_fn(move || {
            let running: Vec<_> = lanes
                .into_iter()
                .map(|rx| {
                    actix_web::rt::spawn(persister::run(
                        factory.build(),
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
        Ok(Self {
            hub,
            bus,
            bus_up,
            verifier,
            store,
            jobs,
            limits: options.limits,
            queue: options.queue,
            allowed_origins: Arc::new(options.allowed_origins),
            internal_token: options.internal_token,
        })
    }

    /// The users online in a room on every node (for `front`'s presence).
    pub async fn users(&self, room: &str) -> Vec<String> {
        let local = self.hub.users(room);
        match self.bus.online(room) {
            Some(everywhere) => connection::merge_users(local, everywhere).await,
            None => local,
        }
    }
}

/// Mounts `ws`'s routes.
pub fn configure(state: WsState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let store: Arc<dyn MessageStore> = Arc::from(state.store.build());
        cfg.app_data(web::Data::new(state))
            .app_data(web::Data::new(store))
            .route("/ws/chat", web::get().to(not_a_websocket))
            .route("/ws/internal/presence", web::get().to(presence));
    }
}

fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn origin_allowed(head: &actix_http::RequestHead, allowed: &[String]) -> bool {
    let header = |name: &str| head.headers.get(name).and_then(|v| v.to_str().ok());
    let Some(origin) = header("origin") else {
        // Not a browser: nothing to check.
        return true;
    };
    if allowed.is_empty() {
        // The page's own host, as the browser addressed it (or the proxy passed it on).
        let host = header("x-forwarded-host")
            .and_then(|h| h.split(',').next())
            .or_else(|| header("host"))
            .unwrap_or_default()
            .trim();
        crate::front::session::origin_is_host(origin, host)
    } else {
        allowed
            .iter()
            .any(|a| a.trim_end_matches('/') == origin.trim_end_matches('/'))
    }
}

/// `GET /ws/chat` without an upgrade: not a WebSocket.
async fn not_a_websocket() -> Result<HttpResponse, ApiError> {
    Err(ApiError::BadRequest(
        "GET /ws/chat must be a WebSocket upgrade".into(),
    ))
}

/// Every request that asks for a protocol upgrade, on every role: actix-http hands over the
/// socket with it. `GET /ws/chat?token=<access token>` becomes a chat connection on a `ws`
/// node; anything else is answered and closed.
pub async fn upgrade(
    state: Option<(WsState, Arc<dyn MessageStore>)>,
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
    let refuse = |e: ApiError| e.to_http1();
    let Some((state, store)) = state.filter(|_| req.path() == "/ws/chat") else {
        let answer = refuse(ApiError::NotFound(format!("no route for {}", req.path())));
        return Ok(io.write_all(&answer).await?);
    };
    let head = req.head();
    if !origin_allowed(head, &state.allowed_origins) {
        let answer = refuse(ApiError::Forbidden(
            "this origin may not open a chat socket".into(),
        ));
        return Ok(io.write_all(&answer).await?);
    }
    if let Err(e) = actix_http::ws::handshake(head) {
        let answer = refuse(ApiError::BadRequest(format!(
            "not a WebSocket handshake: {e}"
        )));
        return Ok(io.write_all(&answer).await?);
    }
    let Some(key) = head
        .headers
        .get("sec-websocket-key")
        .map(|k| k.as_bytes().to_vec())
    else {
        let answer = refuse(ApiError::BadRequest("Sec-WebSocket-Key is missing".into()));
        return Ok(io.write_all(&answer).await?);
    };
    let token = url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned());
    let claims = token
        .ok_or(())
        .and_then(|t| state.verifier.verify(&t, TokenKind::Access).map_err(|_| ()));
    let (outbox, inbound) = socket::take_over(
        io,
        parts.read_buf,
        &key,
        (
            state.queue,
            state.limits.max_text_bytes * 4,
            state.limits.client_timeout,
        ),
        &state.hub.sockets,
    )
    .await?;
    let user_id = claims.as_ref().ok().and_then(|c| c.user_id().ok());
    let (Ok(claims), Some(user_id)) = (claims, user_id) else {
        outbox.close(CLOSE_UNAUTHORIZED);
        return Ok(());
    };
    let connection = Connection {
        id: state.hub.connect(&outbox),
        user_id,
        username: Arc::from(claims.username.as_str()),
        outbox,
        hub: state.hub.clone(),
        bus: state.bus.clone(),
        store,
        jobs: state.jobs.clone(),
        limits: state.limits.clone(),
    };
    actix_web::rt::spawn(connection.run(inbound));
    Ok(())
}

/// `GET /ws/internal/presence?room=`: for a `front` on another machine (service credential).
async fn presence(req: HttpRequest, state: web::Data<WsState>) -> Result<HttpResponse, ApiError> {
    use secrecy::ExposeSecret;
    use subtle::ConstantTimeEq;
    let presented = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let ok = match (presented, &state.internal_token) {
        (Some(p), Some(t)) => bool::from(p.as_bytes().ct_eq(t.expose_secret().as_bytes())),
        _ => false,
    };
    if !ok {
        return Err(ApiError::Unauthorized(
            "the service credential is missing or wrong".into(),
        ));
    }
    let room = query_param(&req, "room").unwrap_or_default();
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"room": room, "users": state.users(&room).await})))
}
