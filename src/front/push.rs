//! Web Push under `/api`: the VAPID key, a user's subscriptions and their notification
//! level per room. Sending is `push::PushService`'s.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::chat::ChatService;
use super::policy::{Member, readable_room};
use crate::domain::{NotifyLevel, ValidationError};
use crate::http::ApiError;
use crate::push::PushService;
use crate::storage::push::{self as stored, Subscribed};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/push/key", web::get().to(key))
        .route("/push/subscriptions", web::post().to(subscribe))
        .route("/push/subscriptions", web::delete().to(unsubscribe))
        .route("/rooms/{room}/notify", web::get().to(get_level))
        .route("/rooms/{room}/notify", web::put().to(set_level));
}

/// `GET /api/push/key` → `{"public_key"}`: the page's `applicationServerKey`.
async fn key(_user: Member, push: web::Data<PushService>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"public_key": push.public_key()}))
}

#[derive(Deserialize)]
struct Keys {
    p256dh: Option<String>,
    auth: Option<String>,
}

/// A browser's `PushSubscription.toJSON()`; `expirationTime` and the like are ignored.
#[derive(Deserialize)]
struct SubscriptionBody {
    endpoint: Option<String>,
    keys: Option<Keys>,
}

/// `POST /api/push/subscriptions` → 201 (new) or 200 (the endpoint was known: its keys and
/// owner are now these) `{"endpoint"}`.
async fn subscribe(
    user: Member,
    push: web::Data<PushService>,
    body: web::Json<SubscriptionBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let (p256dh, auth) = match &body.keys {
        Some(keys) => (keys.p256dh.as_deref(), keys.auth.as_deref()),
        None => return Err(ValidationError::new("keys", "is required").into()),
    };
    let subscription = push
        .rules()
        .subscription(body.endpoint.as_deref(), p256dh, auth)?;
    let endpoint = subscription.endpoint.clone();
    let outcome = push.subscribe(user.id, subscription).await?;
    let mut response = match outcome {
        Subscribed::Created => HttpResponse::Created(),
        Subscribed::Updated => HttpResponse::Ok(),
    };
    Ok(response.json(json!({"endpoint": endpoint})))
}

#[derive(Deserialize)]
struct EndpointBody {
    endpoint: Option<String>,
}

/// `DELETE /api/push/subscriptions {"endpoint"}` → 204; 404 when the caller has no
/// subscription with that endpoint.
async fn unsubscribe(
    user: Member,
    push: web::Data<PushService>,
    body: web::Json<EndpointBody>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = body
        .into_inner()
        .endpoint
        .filter(|e| !e.is_empty())
        .ok_or_else(|| ValidationError::new("endpoint", "is required"))?;
    if push.unsubscribe(user.id, endpoint).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("no such push subscription".into()))
    }
}

/// The room and the caller's membership of it: 404 for a room they may not read, 403 for
/// a public room they have not joined (levels are a member's).
async fn members_room(
    chat: &ChatService,
    user: &Member,
    room: &str,
) -> Result<super::chat::RoomMeta, ApiError> {
    let meta = readable_room(chat, user, room).await?;
    if !chat.is_member(meta.id, user.id).await? {
        return Err(ApiError::Forbidden(
            "only the room's members choose its notifications".into(),
        ));
    }
    Ok(meta)
}

/// `GET /api/rooms/{room}/notify` → `{"room", "level"}`: the caller's level, chosen or
/// the default (`all` in a direct room, `mentions` elsewhere).
async fn get_level(
    user: Member,
    chat: web::Data<ChatService>,
    room: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let room = room.into_inner();
    let meta = members_room(&chat, &user, &room).await?;
    let (user_id, room_id) = (user.id, meta.id);
    let chosen = chat
        .db()
        .run(move |conn| stored::levels_of(conn, user_id, &[room_id]))
        .await?
        .get(&room_id)
        .copied();
    let level = NotifyLevel::or_default(chosen, meta.kind);
    Ok(HttpResponse::Ok().json(json!({"room": room, "level": level})))
}

#[derive(Deserialize)]
struct LevelBody {
    level: Option<String>,
}

/// `PUT /api/rooms/{room}/notify {"level": "all"|"mentions"|"none"}` → `{"room", "level"}`.
async fn set_level(
    user: Member,
    chat: web::Data<ChatService>,
    room: web::Path<String>,
    body: web::Json<LevelBody>,
) -> Result<HttpResponse, ApiError> {
    let level = body
        .level
        .as_deref()
        .ok_or_else(|| ValidationError::new("level", "is required"))?;
    let level = NotifyLevel::parse(level)?;
    let room = room.into_inner();
    let meta = members_room(&chat, &user, &room).await?;
    let (user_id, room_id) = (user.id, meta.id);
    chat.db()
        .run(move |conn| stored::set_level(conn, user_id, room_id, level))
        .await?;
    Ok(HttpResponse::Ok().json(json!({"room": room, "level": level})))
}
