//! The frames the server sends, each encoded once into wire bytes. (What clients send is
//! parsed in `chat::protocol`.)

use bytes::Bytes;
use serde_json::json;

use super::transport::text_frame;
use crate::domain::{RejectCode, RoomEvent};

/// The error codes of the contract's error frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BadRequest,
    TooLarge,
    RateLimited,
    Forbidden,
    NotFound,
    /// The write may not have been stored: send it again with the same `client_id`.
    NotSaved,
    /// What the frame asked for cannot be checked or done right now (the database or
    /// `front` is unreachable): try again later.
    Unavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::NotSaved => "not_saved",
            ErrorCode::Unavailable => "unavailable",
        }
    }
}

impl From<RejectCode> for ErrorCode {
    fn from(code: RejectCode) -> Self {
        match code {
            RejectCode::BadRequest => ErrorCode::BadRequest,
            RejectCode::NotFound => ErrorCode::NotFound,
            RejectCode::Forbidden => ErrorCode::Forbidden,
            RejectCode::NotSaved => ErrorCode::NotSaved,
        }
    }
}

/// `{"type": "error", "code", "message", "client_id"?}`: `client_id` when the error
/// answers a write.
pub fn error(code: ErrorCode, message: &str, client_id: Option<&str>) -> Bytes {
    let mut frame = json!({"type": "error", "code": code.as_str(), "message": message});
    if let Some(cid) = client_id {
        frame["client_id"] = json!(cid);
    }
    text_frame(frame.to_string())
}

/// The writer's acknowledgement of a stored event.
pub fn ack(event: &RoomEvent) -> Bytes {
    let frame = match event {
        RoomEvent::Chat(message) => json!({
            "type": "ack",
            "client_id": message.client_id,
            "id": message.id,
            "seq": message.seq,
            "room": message.room,
            "timestamp": message.timestamp,
        }),
        other => json!({"type": "ack", "client_id": other.client_id(), "seq": other.seq(),
            "room": other.room()}),
    };
    text_frame(frame.to_string())
}

/// A room event, as every subscriber receives it.
pub fn event(event: &RoomEvent) -> Bytes {
    text_frame(event.to_json())
}

pub fn online_users(room: &str, users: &[String]) -> Bytes {
    text_frame(
        json!({"type": "presence", "action": "online_users", "room": room, "users": users})
            .to_string(),
    )
}

/// `join`, `leave` or `typing` about `sender`.
pub fn presence_news(kind: &str, room: &str, sender: &str) -> Bytes {
    text_frame(presence_news_json(kind, room, sender))
}

/// The JSON text of [`presence_news`] (what a bus carries to other nodes).
pub fn presence_news_json(kind: &str, room: &str, sender: &str) -> String {
    json!({"type": kind, "room": room, "sender": sender}).to_string()
}
