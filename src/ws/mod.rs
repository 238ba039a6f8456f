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
mod redis_presence;
mod sequencer;
mod socket;

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use tokio::sync::mpsc;

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
use persister::SaveJob;

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
    pub jobs: mpsc::Sender<SaveJob>,
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
    /// Builds the hub, joins the bus, and starts the persister on a thread of its own.
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
        let (jobs, rx) = mpsc::channel(8192);
        let arbiter = actix_rt::Arbiter::new();
        let (factory, persist_bus, persist) = (store.clone(), bus.clone(), options.persist);
        arbiter.spawn_fn(move || {
            actix_web::rt::spawn(async move {
                persister::run(factory.build(), rx, persist_bus, metrics, persist).await;
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
            .route("/ws/chat", web::get().to(chat))
            .route("/ws/internal/presence", web::get().to(presence));
    }
}

fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn origin_allowed(req: &HttpRequest, allowed: &[String]) -> bool {
    let Some(origin) = req.headers().get("origin").and_then(|v| v.to_str().ok()) else {
        // Not a browser: nothing to check.
        return true;
    };
    if allowed.is_empty() {
        crate::front::session::same_origin(req)
    } else {
        allowed
            .iter()
            .any(|a| a.trim_end_matches('/') == origin.trim_end_matches('/'))
    }
}

/// `GET /ws/chat?token=<access token>`.
async fn chat(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<WsState>,
    store: web::Data<Arc<dyn MessageStore>>,
) -> Result<HttpResponse, actix_web::Error> {
    if !origin_allowed(&req, &state.allowed_origins) {
        return Err(ApiError::Forbidden("this origin may not open a chat socket".into()).into());
    }
    let claims = query_param(&req, "token")
        .ok_or(())
        .and_then(|t| state.verifier.verify(&t, TokenKind::Access).map_err(|_| ()));
    let (response, outbox, inbound) =
        socket::upgrade(&req, payload, state.queue, state.limits.max_text_bytes * 4)?;
    let claims = match claims {
        Ok(claims) => claims,
        Err(()) => {
            outbox.close(CLOSE_UNAUTHORIZED);
            return Ok(response);
        }
    };
    let Ok(user_id) = claims.user_id() else {
        outbox.close(CLOSE_UNAUTHORIZED);
        return Ok(response);
    };
    let connection = Connection {
        id: state.hub.connect(&outbox),
        user_id,
        username: Arc::from(claims.username.as_str()),
        outbox,
        hub: state.hub.clone(),
        bus: state.bus.clone(),
        store: store.get_ref().clone(),
        jobs: state.jobs.clone(),
        limits: state.limits.clone(),
    };
    actix_web::rt::spawn(connection.run(inbound));
    Ok(response)
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
