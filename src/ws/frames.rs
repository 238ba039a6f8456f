//! The WebSocket protocol's JSON frames: what clients send, and the server's replies,
//! each encoded once into wire bytes.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::socket::text_frame;
use crate::domain::Message;

/// A frame from a client. Unknown fields (a `sender`, say) are ignored: the sender is
/// always the token's user.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    Join {
        room: String,
    },
    Leave {
        room: String,
    },
    Typing {
        room: String,
    },
    Chat {
        room: String,
        content: String,
        #[serde(default)]
        client_id: Option<String>,
    },
}

/// The error codes of the contract's error frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BadRequest,
    TooLarge,
    RateLimited,
    Forbidden,
    NotFound,
    NotSaved,
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
        }
    }

    pub fn from_code(code: &str) -> Self {
        match code {
            "too_large" => ErrorCode::TooLarge,
            "forbidden" => ErrorCode::Forbidden,
            "not_found" => ErrorCode::NotFound,
            "bad_request" => ErrorCode::BadRequest,
            _ => ErrorCode::NotSaved,
        }
    }
}

pub fn error(code: ErrorCode, message: &str, client_id: Option<&str>) -> Bytes {
    let mut frame = json!({"type": "error", "code": code.as_str(), "message": message});
    if let Some(cid) = client_id {
        frame["client_id"] = json!(cid);
    }
    text_frame(frame.to_string())
}

pub fn ack(message: &Message) -> Bytes {
    text_frame(
        json!({
            "type": "ack",
            "client_id": message.client_id,
            "id": message.id,
            "seq": message.seq,
            "room": message.room,
            "timestamp": message.timestamp,
        })
        .to_string(),
    )
}

pub fn chat(message: &Message) -> Bytes {
    text_frame(chat_json(message))
}

/// The `chat` frame's JSON text (what a bus carries to other nodes).
pub fn chat_json(message: &Message) -> String {
    json!({
            "type": "chat",
            "id": message.id,
            "room": message.room,
            "seq": message.seq,
            "sender": message.sender,
            "content": message.content,
            "timestamp": message.timestamp,
            "client_id": message.client_id,
    })
    .to_string()
}

pub fn online_users(room: &str, users: &[String]) -> Bytes {
    text_frame(
        json!({"type": "presence", "action": "online_users", "room": room, "users": users})
            .to_string(),
    )
}

/// `join`, `leave` or `typing` about `sender`.
pub fn event(kind: &str, room: &str, sender: &str) -> Bytes {
    text_frame(event_json(kind, room, sender))
}

/// The JSON text of [`event`] (what a bus carries to other nodes).
pub fn event_json(kind: &str, room: &str, sender: &str) -> String {
    json!({"type": kind, "room": room, "sender": sender}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames_parse_and_ignore_a_spoofed_sender() {
        let f: ClientFrame = serde_json::from_str(
            r#"{"type":"chat","room":"general","content":"hi","client_id":"c1","sender":"root"}"#,
        )
        .expect("parse");
        assert!(matches!(f, ClientFrame::Chat { ref room, .. } if room == "general"));
        let f: ClientFrame =
            serde_json::from_str(r#"{"type":"chat","room":"general","content":"hi"}"#)
                .expect("parse");
        assert!(matches!(
            f,
            ClientFrame::Chat {
                client_id: None,
                ..
            }
        ));
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"dance"}"#).is_err());
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"join"}"#).is_err());
    }
}
