use super::ValidationError;

/// A user name: 3–32 of `[A-Za-z0-9_.-]`, unique case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let len = raw.chars().count();
        if !(3..=32).contains(&len) {
            return Err(ValidationError::new(
                "username",
                "must be 3 to 32 characters long",
            ));
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err(ValidationError::new(
                "username",
                "may contain only letters, digits, '_', '.' and '-'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The names a deleted account takes (`deleted-<id>`): no one registers one.
    pub const DELETED_PREFIX: &'static str = "deleted-";

    /// A name new accounts may take: any valid one but a deleted account's.
    pub fn parse_new(raw: &str) -> Result<Self, ValidationError> {
        let name = Self::parse(raw)?;
        if name.key().starts_with(Self::DELETED_PREFIX) {
            return Err(ValidationError::new(
                "username",
                "names starting with \"deleted-\" are kept for deleted accounts",
            ));
        }
        Ok(name)
    }

    /// The form used for case-insensitive uniqueness and look-ups.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// A password as typed: at least 8 characters and at most [`Password::MAX_BYTES`] bytes of
/// UTF-8 (bcrypt reads no further: a longer one would be cut silently). Never displayed.
pub struct Password(String);

impl Password {
    pub const MAX_BYTES: usize = 72;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if raw.chars().count() < 8 {
            return Err(ValidationError::new(
                "password",
                "must be at least 8 characters long",
            ));
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(ValidationError::new(
                "password",
                format!(
                    "must be at most {} bytes long (bcrypt reads no further); this one has {}",
                    Self::MAX_BYTES,
                    raw.len()
                ),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A room name: 1–64 of `[a-z0-9_-]`.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct RoomName(String);

impl TryFrom<String> for RoomName {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::check(&raw)?;
        Ok(Self(raw))
    }
}

impl From<RoomName> for String {
    fn from(r: RoomName) -> Self {
        r.0
    }
}

impl std::fmt::Display for RoomName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl RoomName {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        Self::check(raw)?;
        Ok(Self(raw.to_owned()))
    }

    fn check(raw: &str) -> Result<(), ValidationError> {
        if raw.is_empty() || raw.len() > 64 {
            return Err(ValidationError::new(
                "name",
                "must be 1 to 64 characters long",
            ));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'))
        {
            return Err(ValidationError::new(
                "name",
                "may contain only lower-case letters, digits, '_' and '-'",
            ));
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("user1").is_ok());
        assert!(Username::parse("a.b-c_d").is_ok());
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        assert!(Username::parse("bad name").is_err());
        assert!(Username::parse("ünï").is_err());
        assert_eq!(
            Username::parse("User1").map(|u| u.key()),
            Ok("user1".into())
        );
    }

    #[test]
    fn passwords() {
        assert!(Password::parse("hello1").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        let p = Password::parse("s3cret-password").map(|p| format!("{p:?}"));
        assert_eq!(p, Ok("Password(<redacted>)".into()));
    }

    #[test]
    fn room_names() {
        assert!(RoomName::parse("general").is_ok());
        assert!(RoomName::parse("dev_ops-2").is_ok());
        assert!(RoomName::parse("").is_err());
        assert!(RoomName::parse("General").is_err());
        assert!(RoomName::parse(&"a".repeat(65)).is_err());
    }
}
