//! A change to a room, parsed at the door, on its way to be stored: the types it was
//! parsed into travel unchanged to storage (over HTTP too: deserializing runs the same
//! parsers), and what became of it comes back as one typed outcome.

use serde::{Deserialize, Serialize};

use super::{ClientId, MessageContent, RoomEvent, RoomName};

/// A change to store, on behalf of a user whose token `ws` verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    pub room: RoomName,
    pub sender_id: i64,
    /// The token's username: checked against the account, which may be gone.
    pub sender: String,
    /// Given by the client or assigned at the door: a retry never makes a second event.
    pub client_id: ClientId,
    pub change: Change,
}

/// What the draft changes: one variant per kind of event a client can cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A new message.
    Chat { content: MessageContent },
    /// Deletes a message of the room (the sender's own, or any as an administrator).
    Delete { id: i64 },
}

/// What became of one draft, in the order the drafts were given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SaveOutcome {
    /// Stored now, with the room's next seq: acknowledge it and announce it.
    Stored { event: RoomEvent },
    /// Stored before under this (sender, client id): acknowledge the original, and
    /// announce it where it never was (a reply lost after the commit; see the sequencer).
    Duplicate { event: RoomEvent },
    /// Refused for a reason a retry will not change, or not stored for a fault of its own.
    Rejected { reason: Rejection },
}

/// Why one draft was not stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct Rejection {
    pub code: RejectCode,
    pub message: String,
}

impl Rejection {
    pub fn new(code: RejectCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The reasons storage gives, each one error code of the WebSocket error frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// The database refused this draft itself: sending it again will not help.
    BadRequest,
    /// No such room (or none this sender may see).
    NotFound,
    /// The sender may not do this (say, a token whose account is gone).
    Forbidden,
    /// This draft alone met a transient fault: send it again with the same client id.
    NotSaved,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_parse_their_fields_when_they_travel() {
        let good = serde_json::json!({"room": "general", "sender_id": 1, "sender": "ann",
            "client_id": "c1", "change": {"kind": "chat", "content": " hi "}});
        let draft: Draft = serde_json::from_value(good.clone()).expect("a draft");
        assert_eq!(
            draft.change,
            Change::Chat {
                content: MessageContent::parse("hi").expect("content")
            }
        );
        for (field, bad) in [
            ("room", serde_json::json!("No Such")),
            ("client_id", serde_json::json!("")),
        ] {
            let mut body = good.clone();
            body[field] = bad;
            assert!(serde_json::from_value::<Draft>(body).is_err(), "{field}");
        }
        let mut nul = good;
        nul["change"]["content"] = serde_json::json!("a\u{0}b");
        assert!(serde_json::from_value::<Draft>(nul).is_err());
    }

    #[test]
    fn an_unknown_reject_code_is_an_error_not_a_default() {
        let unknown = serde_json::json!({"status": "rejected",
            "reason": {"code": "exploded", "message": "?"}});
        assert!(serde_json::from_value::<SaveOutcome>(unknown).is_err());
    }
}
