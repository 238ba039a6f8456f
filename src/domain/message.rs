use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ValidationError;

/// A stored chat message as clients see it (REST history and WebSocket `chat` frames).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: i64,
    pub room: String,
    /// 1, 2, 3, … within the room, with no gaps.
    pub seq: i64,
    /// The sender's username, taken from a verified token.
    pub sender: String,
    pub content: String,
    /// RFC 3339, UTC.
    pub timestamp: DateTime<Utc>,
    /// What the sender gave, or null.
    pub client_id: Option<String>,
}

/// The longest message, in characters after trimming.
pub const MAX_CONTENT_CHARS: usize = 4000;

/// Message text: 1–4000 characters after trimming surrounding white space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageContent(String);

impl MessageContent {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::new("content", "must not be empty"));
        }
        if trimmed.chars().count() > MAX_CONTENT_CHARS {
            return Err(ValidationError::new(
                "content",
                format!("must be at most {MAX_CONTENT_CHARS} characters"),
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The client's own id for a message it sends: 1–64 characters, opaque to the server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let len = raw.chars().count();
        if !(1..=64).contains(&len) {
            return Err(ValidationError::new(
                "client_id",
                "must be 1 to 64 characters long",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_trimmed_and_bounded() {
        assert_eq!(
            MessageContent::parse("  hi \n").map(MessageContent::into_string),
            Ok("hi".into())
        );
        assert!(MessageContent::parse(" \n\t ").is_err());
        assert!(MessageContent::parse(&"é".repeat(MAX_CONTENT_CHARS)).is_ok());
        assert!(MessageContent::parse(&"é".repeat(MAX_CONTENT_CHARS + 1)).is_err());
    }

    #[test]
    fn client_ids() {
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("abc-123").is_ok());
        assert!(ClientId::parse(&"x".repeat(65)).is_err());
    }
}
