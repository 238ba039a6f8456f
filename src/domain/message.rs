use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ValidationError;

/// A stored chat message as clients see it (REST history and WebSocket `chat` frames).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: i64,
    pub room: String,
    /// The room's seq of the event that created the message (gapless over all events).
    pub seq: i64,
    /// The sender's username, taken from a verified token.
    pub sender: String,
    pub content: String,
    /// RFC 3339, UTC.
    pub timestamp: DateTime<Utc>,
    /// What the sender gave (or the server assigned at the door); null for messages stored
    /// before every write carried one.
    pub client_id: Option<String>,
    /// Deleted: its content is gone (empty here), its seq stays.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// The longest message, in characters after trimming.
pub const MAX_CONTENT_CHARS: usize = 4000;

fn refuse_nul(field: &'static str, raw: &str) -> Result<(), ValidationError> {
    // PostgreSQL cannot store U+0000 in text; refused here on every backend alike.
    if raw.contains('\0') {
        return Err(ValidationError::new(
            field,
            "must not contain the NUL character (U+0000)",
        ));
    }
    Ok(())
}

/// Message text: 1–4000 characters after trimming surrounding white space, no U+0000.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageContent(String);

impl MessageContent {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::new("content", "must not be empty"));
        }
        if Self::too_long(trimmed) {
            return Err(ValidationError::new(
                "content",
                format!("must be at most {MAX_CONTENT_CHARS} characters"),
            ));
        }
        refuse_nul("content", trimmed)?;
        Ok(Self(trimmed.to_owned()))
    }

    /// Whether `raw` is refused for its length alone (`too_large` rather than
    /// `bad_request`).
    pub fn too_long(raw: &str) -> bool {
        // Cheap first: a text of at most MAX bytes has at most MAX characters.
        let raw = raw.trim();
        raw.len() > MAX_CONTENT_CHARS && raw.chars().count() > MAX_CONTENT_CHARS
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl TryFrom<String> for MessageContent {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        // Already trimmed and valid: keep the allocation.
        if raw.trim().len() == raw.len() && !raw.is_empty() && !Self::too_long(&raw) {
            refuse_nul("content", &raw)?;
            return Ok(Self(raw));
        }
        Self::parse(&raw)
    }
}

impl From<MessageContent> for String {
    fn from(c: MessageContent) -> Self {
        c.0
    }
}

/// The client's own id for a write: 1–64 characters, opaque to the server, without
/// control characters. It makes every write retryable without a second event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        Self::try_from(raw.to_owned())
    }

    /// An id assigned at the door to a `chat` that came without one (a client written
    /// for the original), so that the server's own retries never store it twice.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 12];
        // Without randomness the id is still unique enough per process and moment.
        if getrandom::fill(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            bytes.copy_from_slice(&nanos.to_le_bytes()[..12]);
        }
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("srv-{hex}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientId {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let len = raw.chars().count();
        if !(1..=64).contains(&len) {
            return Err(ValidationError::new(
                "client_id",
                "must be 1 to 64 characters long",
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "client_id",
                "must not contain control characters",
            ));
        }
        Ok(Self(raw))
    }
}

impl From<ClientId> for String {
    fn from(c: ClientId) -> Self {
        c.0
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
        assert!(MessageContent::too_long(&"é".repeat(MAX_CONTENT_CHARS + 1)));
        assert!(!MessageContent::too_long(&"é".repeat(MAX_CONTENT_CHARS)));
    }

    #[test]
    fn content_with_nul_is_refused_however_it_arrives() {
        assert!(MessageContent::parse("a\0b").is_err());
        assert!(MessageContent::try_from("a\0b".to_owned()).is_err());
        assert!(serde_json::from_str::<MessageContent>(r#""a\u0000b""#).is_err());
        assert_eq!(
            serde_json::from_str::<MessageContent>(r#"" hi ""#)
                .map(String::from)
                .ok(),
            Some("hi".to_owned())
        );
    }

    #[test]
    fn client_ids() {
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse("abc-123").is_ok());
        assert!(ClientId::parse(&"x".repeat(65)).is_err());
        assert!(ClientId::parse("a\0b").is_err());
        assert!(serde_json::from_str::<ClientId>(r#""a\u0000""#).is_err());
        let made = ClientId::generate();
        assert!(ClientId::parse(made.as_str()).is_ok());
        assert_ne!(made, ClientId::generate());
    }
}
