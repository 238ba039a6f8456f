//! Room events: every change to a room, numbered by the room's gapless `seq`. An event's
//! JSON is the WebSocket frame that announces it and the entry of the events feed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Message;

/// Every kind of room event the contract names. Only [`EventKind::Chat`] has a
/// [`RoomEvent`] variant yet; the others arrive with the features that make them (edit,
/// delete, reactions, memberships), as variants on the same pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Chat,
    Edit,
    Delete,
    Reaction,
    MemberAdded,
    MemberRemoved,
    RoomUpdated,
}

impl EventKind {
    pub const ALL: [EventKind; 7] = [
        EventKind::Chat,
        EventKind::Edit,
        EventKind::Delete,
        EventKind::Reaction,
        EventKind::MemberAdded,
        EventKind::MemberRemoved,
        EventKind::RoomUpdated,
    ];

    /// The frame's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Chat => "chat",
            EventKind::Edit => "edit",
            EventKind::Delete => "delete",
            EventKind::Reaction => "reaction",
            EventKind::MemberAdded => "member_added",
            EventKind::MemberRemoved => "member_removed",
            EventKind::RoomUpdated => "room_updated",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// Someone joined or left a room's members:
/// `{"type": "member_added" | "member_removed", "room", "seq", "user", "sender", "timestamp"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipChange {
    pub room: String,
    pub seq: i64,
    /// Whose membership changed.
    pub user: String,
    /// Who changed it (the user themselves when they leave); null when their account is gone.
    pub sender: Option<String>,
    pub timestamp: DateTime<Utc>,
}

/// A message was deleted (by its sender, or by an administrator):
/// `{"type": "delete", "room", "seq", "id", "sender", "timestamp", "client_id"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deletion {
    pub room: String,
    pub seq: i64,
    /// The deleted message's id.
    pub id: i64,
    /// Who deleted it.
    pub sender: Option<String>,
    pub timestamp: DateTime<Utc>,
    pub client_id: Option<String>,
}

/// A stored room event. Serialized, it is the frame that announces it:
/// `{"type": "chat", "id", "room", "seq", "sender", "content", "timestamp", "client_id"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RoomEvent {
    /// A new message.
    Chat(Message),
    MemberAdded(MembershipChange),
    /// The user's subscriptions to the room end on every node when it is announced.
    MemberRemoved(MembershipChange),
    Delete(Deletion),
}

impl RoomEvent {
    pub fn kind(&self) -> EventKind {
        match self {
            RoomEvent::Chat(_) => EventKind::Chat,
            RoomEvent::MemberAdded(_) => EventKind::MemberAdded,
            RoomEvent::MemberRemoved(_) => EventKind::MemberRemoved,
            RoomEvent::Delete(_) => EventKind::Delete,
        }
    }

    pub fn room(&self) -> &str {
        match self {
            RoomEvent::Chat(m) => &m.room,
            RoomEvent::MemberAdded(c) | RoomEvent::MemberRemoved(c) => &c.room,
            RoomEvent::Delete(d) => &d.room,
        }
    }

    pub fn seq(&self) -> i64 {
        match self {
            RoomEvent::Chat(m) => m.seq,
            RoomEvent::MemberAdded(c) | RoomEvent::MemberRemoved(c) => c.seq,
            RoomEvent::Delete(d) => d.seq,
        }
    }

    /// The writer's id for the change, when a client made it.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            RoomEvent::Chat(m) => m.client_id.as_deref(),
            RoomEvent::Delete(d) => d.client_id.as_deref(),
            RoomEvent::MemberAdded(_) | RoomEvent::MemberRemoved(_) => None,
        }
    }

    /// The user whose subscriptions to the room end with this event.
    pub fn removes(&self) -> Option<&str> {
        match self {
            RoomEvent::MemberRemoved(c) => Some(&c.user),
            _ => None,
        }
    }

    /// The frame's JSON text.
    pub fn to_json(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_their_names() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::parse("dance"), None);
    }

    #[test]
    fn a_chat_event_is_the_chat_frame() {
        let event = RoomEvent::Chat(Message {
            id: 7,
            room: "general".into(),
            seq: 3,
            sender: "ann".into(),
            content: "hi".into(),
            timestamp: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
            client_id: Some("c1".into()),
            deleted: false,
        });
        let json: serde_json::Value = serde_json::from_str(&event.to_json()).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"type": "chat", "id": 7, "room": "general", "seq": 3,
                "sender": "ann", "content": "hi", "timestamp": "2023-11-14T22:13:20Z",
                "client_id": "c1"})
        );
        assert_eq!(
            serde_json::from_value::<RoomEvent>(json).ok(),
            Some(event.clone())
        );
        assert_eq!(
            (event.kind(), event.room(), event.seq()),
            (EventKind::Chat, "general", 3)
        );
    }
}
