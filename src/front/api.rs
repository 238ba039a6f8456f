//! The REST API under `/api` (JSON; `Authorization: Bearer <access token>` or the session
//! cookie), and the internal route `ws` persists through.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::chat::ChatService;
use super::feed_query::{EventsParams, EventsQuery, HistoryParams, HistoryQuery};
use super::policy::{Member, readable_room};
use super::session::authenticate;
use crate::domain::services::{Admission, AuthApi, PresenceApi};
use crate::domain::{Draft, ValidationError};
use crate::http::ApiError;
use crate::storage::StorageError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api")
            .route("/me", web::get().to(me))
            .route("/token", web::post().to(token))
            .configure(super::rooms::configure)
            .configure(super::admin::configure)
            .configure(super::account::configure)
            .configure(super::push::configure)
            .route("/chat/chat_history", web::get().to(history))
            .route("/chat/events", web::get().to(events))
            .route("/presence", web::get().to(presence))
            .route("/internal/rooms/{name}/join", web::post().to(internal_join))
            .route("/messages/save_message", web::post().to(save_message)),
    );
}

/// `GET /api/me`: who the credentials belong to.
async fn me(user: Member) -> HttpResponse {
    HttpResponse::Ok().json(json!({"id": user.id, "username": user.username,
        "display_name": user.display_name, "role": user.role, "totp": user.totp}))
}

/// `POST /api/token` (session cookie): a short-lived access token for the page's WebSocket.
/// The page never holds the long-lived session token itself.
async fn token(req: HttpRequest, auth: web::Data<dyn AuthApi>) -> Result<HttpResponse, ApiError> {
    authenticate(&req)?;
    let session = req
        .cookie(super::session::SESSION_COOKIE)
        .ok_or_else(|| ApiError::Unauthorized("this route takes the session cookie".into()))?;
    let issued = auth.refresh(session.value()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(json!({"access_token": issued.access_token, "token_type": "Bearer", "expires_in": issued.expires_in})))
}

/// An optional whole-number query parameter in `min..=max` (422 `invalid_field` otherwise).
pub(super) fn number(
    field: &'static str,
    raw: &Option<String>,
    min: i64,
    max: i64,
) -> Result<Option<i64>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let n: i64 = raw
        .trim()
        .parse()
        .map_err(|_| ValidationError::new(field, "must be a whole number"))?;
    if !(min..=max).contains(&n) {
        return Err(ValidationError::new(field, format!("must be between {min} and {max}")).into());
    }
    Ok(Some(n))
}

async fn history(
    user: Member,
    chat: web::Data<ChatService>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let HistoryParams {
        room,
        cursor,
        limit,
    } = query.check()?;
    let room_id = readable_room(&chat, &user, &room).await?.id;
    let messages = chat.history(room_id, &room, cursor, limit).await?;
    Ok(HttpResponse::Ok().json(json!({"room": room, "messages": messages})))
}

/// `GET /api/chat/events?room=R&after=S&limit=N`: the room's events after seq S, gapless.
async fn events(
    user: Member,
    chat: web::Data<ChatService>,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let EventsParams { room, after, limit } = query.check()?;
    let room_id = readable_room(&chat, &user, &room).await?.id;
    let page = chat.events(room_id, &room, after, limit).await?;
    Ok(HttpResponse::Ok()
        .json(json!({"room": room, "events": page.events, "last_seq": page.last_seq})))
}

#[derive(Deserialize)]
struct PresenceQuery {
    room: Option<String>,
}

async fn presence(
    user: Member,
    chat: web::Data<ChatService>,
    source: web::Data<dyn PresenceApi>,
    query: web::Query<PresenceQuery>,
) -> Result<HttpResponse, ApiError> {
    let room = query
        .room
        .as_deref()
        .ok_or_else(|| ValidationError::new("room", "is required"))?;
    readable_room(&chat, &user, room).await?;
    let users = source.users(room).await.map_err(|e| {
        tracing::warn!(error = %e, "presence is unavailable");
        ApiError::Unavailable("presence is unavailable right now".into())
    })?;
    Ok(HttpResponse::Ok().json(json!({"room": room, "users": users})))
}

/// The service credential `ws` presents.
#[derive(Clone)]
pub struct InternalToken(pub Option<secrecy::SecretString>);

#[derive(Deserialize)]
#[serde(untagged)]
enum SaveBody {
    Batch { messages: Vec<Draft> },
    One(Draft),
}

/// The largest save request `ws` sends (a batch of at most 1000 drafts).
const MAX_SAVE_BODY: usize = 4 << 20;

/// `POST /api/messages/save_message`: `ws` stores a batch (or one draft), each draft
/// independently of the others' faults. Only the service credential is accepted, and it
/// is checked before a byte of the body is read.
async fn save_message(
    req: HttpRequest,
    chat: web::Data<ChatService>,
    token: web::Data<InternalToken>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_service_credential(&req, &token)?;
    let body = crate::http::body::read_limited(payload, MAX_SAVE_BODY).await?;
    let body: SaveBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("not a batch of drafts: {e}")))?;
    let drafts = match body {
        SaveBody::Batch { messages } => messages,
        SaveBody::One(draft) => vec![draft],
    };
    if drafts.len() > 1000 {
        return Err(ApiError::PayloadTooLarge(
            "at most 1000 messages per batch".into(),
        ));
    }
    let outcomes = chat.save(drafts).await.map_err(|e: StorageError| {
        tracing::warn!(error = %e, "saving a batch failed");
        ApiError::from(e)
    })?;
    Ok(HttpResponse::Ok().json(json!({"results": outcomes})))
}

/// `POST /api/internal/rooms/{name}/join?user_id=N&username=U`: a `ws` node asks whether
/// the user its token names may subscribe to a room (joining a public one makes them a
/// member). 404: as far as that user may know, there is no such room; 403: the token names
/// no active account. Service credential only, checked first.
async fn internal_join(
    req: HttpRequest,
    chat: web::Data<ChatService>,
    token: web::Data<InternalToken>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_service_credential(&req, &token)?;
    let param = |key: &str| {
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let user_id: i64 = param("user_id")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| ValidationError::new("user_id", "is required: a user's id"))?;
    let username = param("username")
        .ok_or_else(|| ValidationError::new("username", "is required: the token's username"))?;
    match chat.join(name.as_str(), user_id, &username).await? {
        Admission::Joined => Ok(HttpResponse::Ok().json(json!({"name": name.as_str()}))),
        Admission::NoSuchRoom => Err(ApiError::NotFound(format!(
            "no room named {:?}",
            name.as_str()
        ))),
        Admission::Refused => Err(ApiError::Forbidden(
            "the token names no active account".into(),
        )),
    }
}

/// 401 without a credential or with a wrong one; 403 for a user's own token.
pub fn check_service_credential(req: &HttpRequest, token: &InternalToken) -> Result<(), ApiError> {
    use secrecy::ExposeSecret;
    use subtle::ConstantTimeEq;
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if let (Some(presented), Some(expected)) = (presented, &token.0)
        && bool::from(
            presented
                .as_bytes()
                .ct_eq(expected.expose_secret().as_bytes()),
        )
    {
        return Ok(());
    }
    if authenticate(req).is_ok() {
        return Err(ApiError::Forbidden(
            "this route is for the ws service only".into(),
        ));
    }
    Err(ApiError::Unauthorized(
        "the service credential is missing or wrong".into(),
    ))
}
