//! The REST API under `/api` (JSON; `Authorization: Bearer <access token>` or the session
//! cookie), and the internal route `ws` persists through.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::chat::ChatService;
use super::session::{CurrentUser, authenticate};
use crate::domain::services::{AuthApi, PresenceApi};
use crate::domain::{Draft, RoomName, ValidationError};
use crate::http::ApiError;
use crate::storage::messages::Cursor;
use crate::storage::{StorageError, now_utc, rooms};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api")
            .route("/me", web::get().to(me))
            .route("/token", web::post().to(token))
            .route("/rooms", web::get().to(list_rooms))
            .route("/rooms", web::post().to(create_room))
            .route("/chat/chat_history", web::get().to(history))
            .route("/chat/events", web::get().to(events))
            .route("/presence", web::get().to(presence))
            .route("/internal/rooms/{name}", web::get().to(internal_room))
            .route("/messages/save_message", web::post().to(save_message)),
    );
}

/// `GET /api/me`: who the credentials belong to (an extension of the contract).
async fn me(user: CurrentUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({"id": user.id, "username": user.username}))
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

fn room_json(room: &rooms::Room) -> serde_json::Value {
    json!({"id": room.id, "name": room.name, "description": room.description, "last_seq": room.last_seq})
}

async fn list_rooms(
    _user: CurrentUser,
    chat: web::Data<ChatService>,
) -> Result<HttpResponse, ApiError> {
    let all = chat.db().run(rooms::list).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(room_json).collect::<Vec<_>>()))
}

#[derive(Deserialize)]
struct NewRoomBody {
    name: Option<String>,
    description: Option<String>,
}

async fn create_room(
    user: CurrentUser,
    chat: web::Data<ChatService>,
    body: web::Json<NewRoomBody>,
) -> Result<HttpResponse, ApiError> {
    let name = body
        .name
        .as_deref()
        .ok_or_else(|| ValidationError::new("name", "is required"))?;
    let name = RoomName::parse(name)?;
    let description = body.description.clone().unwrap_or_default();
    if description.chars().count() > 500 {
        return Err(ValidationError::new("description", "must be at most 500 characters").into());
    }
    let owned = name.as_str().to_owned();
    let created = chat
        .db()
        .run(move |conn| {
            rooms::insert(
                conn,
                &rooms::NewRoom {
                    name: &owned,
                    description: &description,
                    created_by: Some(user.id),
                    created_at: now_utc(),
                },
            )
        })
        .await
        .map_err(|e| match e {
            e if e.is_unique_violation() => ApiError::Conflict {
                code: "room_exists",
                message: format!("a room named {:?} exists already", name.as_str()),
            },
            e => e.into(),
        })?;
    Ok(HttpResponse::Created().json(room_json(&created)))
}

#[derive(Deserialize)]
struct HistoryQuery {
    room: Option<String>,
    before: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

fn number(
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
    _user: CurrentUser,
    chat: web::Data<ChatService>,
    query: web::Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let room = query
        .room
        .as_deref()
        .ok_or_else(|| ValidationError::new("room", "is required"))?;
    let limit = number("limit", &query.limit, 1, 200)?.unwrap_or(50);
    let before = number("before", &query.before, 1, i64::MAX)?;
    let after = number("after", &query.after, 0, i64::MAX)?;
    let cursor = match (before, after) {
        (Some(_), Some(_)) => {
            return Err(
                ValidationError::new("before", "give at most one of before and after").into(),
            );
        }
        (Some(b), None) => Cursor::Before(b),
        (None, Some(a)) => Cursor::After(a),
        (None, None) => Cursor::Latest,
    };
    let room_id = chat
        .room_id(room)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no room named {room:?}")))?;
    let messages = chat.history(room_id, room, cursor, limit).await?;
    Ok(HttpResponse::Ok().json(json!({"room": room, "messages": messages})))
}

#[derive(Deserialize)]
struct EventsQuery {
    room: Option<String>,
    after: Option<String>,
    limit: Option<String>,
}

/// `GET /api/chat/events?room=R&after=S&limit=N`: the room's events after seq S, gapless.
async fn events(
    _user: CurrentUser,
    chat: web::Data<ChatService>,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let room = query
        .room
        .as_deref()
        .ok_or_else(|| ValidationError::new("room", "is required"))?;
    let after = number("after", &query.after, 0, i64::MAX)?.unwrap_or(0);
    let limit = number("limit", &query.limit, 1, 500)?.unwrap_or(200);
    let room_id = chat
        .room_id(room)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no room named {room:?}")))?;
    let page = chat.events(room_id, room, after, limit).await?;
    Ok(HttpResponse::Ok()
        .json(json!({"room": room, "events": page.events, "last_seq": page.last_seq})))
}

#[derive(Deserialize)]
struct PresenceQuery {
    room: Option<String>,
}

async fn presence(
    _user: CurrentUser,
    chat: web::Data<ChatService>,
    source: web::Data<dyn PresenceApi>,
    query: web::Query<PresenceQuery>,
) -> Result<HttpResponse, ApiError> {
    let room = query
        .room
        .as_deref()
        .ok_or_else(|| ValidationError::new("room", "is required"))?;
    if chat.room_id(room).await?.is_none() {
        return Err(ApiError::NotFound(format!("no room named {room:?}")));
    }
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
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    use futures_util::StreamExt;
    check_service_credential(&req, &token)?;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("reading the body: {e}")))?;
        if body.len() + chunk.len() > MAX_SAVE_BODY {
            return Err(ApiError::PayloadTooLarge(format!(
                "a save request may be at most {MAX_SAVE_BODY} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
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

/// `GET /api/internal/rooms/{name}`: whether a room exists (for `ws`; service credential).
async fn internal_room(
    req: HttpRequest,
    chat: web::Data<ChatService>,
    token: web::Data<InternalToken>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_service_credential(&req, &token)?;
    match chat.room_id(name.as_str()).await? {
        Some(id) => Ok(HttpResponse::Ok().json(json!({"id": id, "name": name.as_str()}))),
        None => Err(ApiError::NotFound(format!(
            "no room named {:?}",
            name.as_str()
        ))),
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
