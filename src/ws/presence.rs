//! Who is online, for `front`: in-process inside `all` ([`PresenceApi`] on the node's own
//! state), and `GET /ws/internal/presence?room=` for a `front` on another machine.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};

use super::{WsState, query_param};
use crate::domain::services::{Connector, PresenceApi, Unavailable};
use crate::http::ApiError;

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

/// `GET /ws/internal/presence?room=` (service credential).
pub(super) async fn internal(
    req: HttpRequest,
    state: web::Data<WsState>,
) -> Result<HttpResponse, ApiError> {
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
