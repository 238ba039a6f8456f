//! Who may do what in a workspace: roles, room kinds, how people get in.

use serde::{Deserialize, Serialize};

use super::ValidationError;

/// A user's role, checked in one place (`front::policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages users, roles, the join code, any message and room.
    Admin,
    Member,
    /// An integration, acting through the API with a key.
    Bot,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Bot => "bot",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw {
            "admin" => Ok(Role::Admin),
            "member" => Ok(Role::Member),
            "bot" => Ok(Role::Bot),
            _ => Err(ValidationError::new(
                "role",
                "must be one of admin, member, bot",
            )),
        }
    }
}

/// What kind of room, and so who sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// Every member of the workspace may see and join it.
    Public,
    /// Only its members see it, read it, join it, or learn that it exists.
    Private,
    /// A conversation between 2–8 people: one room per set of people.
    Direct,
}

impl RoomKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Public => "public",
            RoomKind::Private => "private",
            RoomKind::Direct => "direct",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw {
            "public" => Ok(RoomKind::Public),
            "private" => Ok(RoomKind::Private),
            "direct" => Ok(RoomKind::Direct),
            _ => Err(ValidationError::new(
                "kind",
                "must be one of public, private (direct rooms come from POST /api/dms)",
            )),
        }
    }

    /// Whether only members may see the room.
    pub fn members_only(self) -> bool {
        !matches!(self, RoomKind::Public)
    }
}

/// How people other than the first (who becomes the administrator) get an account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Registration {
    /// With the workspace join code or a one-person invite.
    #[default]
    Invite,
    /// Anyone who can reach the server.
    Open,
    /// Only through an administrator (`chatapp admin create-user`).
    Closed,
}

/// People in a direct room, at least and at most (the creator included).
pub const DIRECT_MIN: usize = 2;
pub const DIRECT_MAX: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for role in [Role::Admin, Role::Member, Role::Bot] {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        for kind in [RoomKind::Public, RoomKind::Private, RoomKind::Direct] {
            assert_eq!(RoomKind::parse(kind.as_str()), Ok(kind));
        }
        assert!(Role::parse("root").is_err());
        assert!(RoomKind::parse("secret").is_err());
        assert!(RoomKind::Private.members_only() && !RoomKind::Public.members_only());
    }
}
