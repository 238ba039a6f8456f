//! What `front` needs of the `ws` nodes: who is online ([`PresenceApi`]) and telling every
//! node of what `front` changed itself ([`Announcer`]); in-process inside `all` (on the
//! node's own state), and under `/ws/internal/` for a `front` on another machine, with
//! the service credential.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};

use serde::Deserialize;

use super::{WsState, query_param};
use crate::domain::RoomEvent;
use crate::domain::services::{Announcer, Connector, PresenceApi, Unavailable};
use crate::http::ApiError;
use crate::http::body::read_json;

#[async_trait::async_trait(?Send)]
impl PresenceApi for WsState {
    async fn users(&self, room: &str) -> Result<Vec<String>, Unavailable> {
        Ok(WsState::users(self, room).await)
    }
}

impl Connector<dyn PresenceApi> for WsState {
    fn connect(&self) -> Arc<dyn PresenceApi> {
        Arc::new(self.clone())
    }
}

#[async_trait::async_trait(?Send)]
impl Announcer for WsState {
    async fn announce(&self, event: &RoomEvent) -> Result<(), Unavailable> {
        self.bus.announce(event);
        Ok(())
    }

    async fn close_account(&self, username: &str) -> Result<(), Unavailable> {
        self.bus.close_account(username);
        Ok(())
    }

    async fn close_sessions(&self, sessions: &[String]) -> Result<(), Unavailable> {
        for session in sessions {
            self.bus.close_session(session);
        }
        Ok(())
    }
}

impl Connector<dyn Announcer> for WsState {
    fn connect(&self) -> Arc<dyn Announcer> {
        Arc::new(self.clone())
    }
}

/// 401 unless the request carries the service credential.
fn check_credential(req: &HttpRequest, state: &WsState) -> Result<(), ApiError> {
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
    if ok {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(
            "the service credential is missing or wrong".into(),
        ))
    }
}

#[derive(Deserialize)]
struct EventBody {
    event: RoomEvent,
}

/// `POST /ws/internal/events {"event"}`: an event `front` stored, for this node's bus to
/// announce on every node.
pub(super) async fn announce(
    req: HttpRequest,
    state: web::Data<WsState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_credential(&req, &state)?;
    let body: EventBody = read_json(payload, 64 * 1024).await?;
    state.bus.announce(&body.event);
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct AccountBody {
    username: String,
}

/// `POST /ws/internal/accounts/close {"username"}`: close the account's sockets everywhere.
pub(super) async fn close_account(
    req: HttpRequest,
    state: web::Data<WsState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_credential(&req, &state)?;
    let body: AccountBody = read_json(payload, 4096).await?;
    state.bus.close_account(&body.username);
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct SessionsBody {
    sessions: Vec<String>,
}

/// `POST /ws/internal/sessions/close {"sessions": [id, ...]}`: these sessions ended; close
/// their sockets everywhere.
pub(super) async fn close_sessions(
    req: HttpRequest,
    state: web::Data<WsState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_credential(&req, &state)?;
    let body: SessionsBody = read_json(payload, 64 * 1024).await?;
    for session in body.sessions.iter().take(1000) {
        state.bus.close_session(session);
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /ws/internal/presence?room=` (service credential).
pub(super) async fn presence(
    req: HttpRequest,
    state: web::Data<WsState>,
) -> Result<HttpResponse, ApiError> {
    check_credential(&req, &state)?;
    let room = query_param(&req, "room").unwrap_or_default();
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"room": room, "users": state.users(&room).await})))
}
