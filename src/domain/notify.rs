//! Who is notified of a message: a member's level per room and the one rule that reads it.

use serde::{Deserialize, Serialize};

use super::{RoomKind, ValidationError};

/// How much of a room reaches a member as a push notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyLevel {
    /// Every message by someone else.
    All,
    /// Messages that mention the member.
    Mentions,
    /// Nothing.
    None,
}

impl NotifyLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyLevel::All => "all",
            NotifyLevel::Mentions => "mentions",
            NotifyLevel::None => "none",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw {
            "all" => Ok(NotifyLevel::All),
            "mentions" => Ok(NotifyLevel::Mentions),
            "none" => Ok(NotifyLevel::None),
            _ => Err(ValidationError::new(
                "level",
                "must be one of all, mentions, none",
            )),
        }
    }

    /// The level of a member who never chose one: everything in a direct room (every
    /// message there is addressed to them), mentions elsewhere.
    pub fn default_for(kind: RoomKind) -> Self {
        match kind {
            RoomKind::Direct => NotifyLevel::All,
            RoomKind::Public | RoomKind::Private => NotifyLevel::Mentions,
        }
    }

    /// The member's choice if they made one, else the room kind's default.
    pub fn or_default(chosen: Option<Self>, kind: RoomKind) -> Self {
        chosen.unwrap_or_else(|| Self::default_for(kind))
    }
}

/// Whether a message by someone else reaches a member as a push: `level` is theirs for
/// the room (chosen or default), `mentions_me` whether the message mentions them. A
/// direct room counts as a mention (the contract's `activity.mention` says the same), so
/// `mentions` lets direct messages through; `none` silences even those.
pub fn should_push(level: NotifyLevel, is_direct: bool, mentions_me: bool) -> bool {
    match level {
        NotifyLevel::All => true,
        NotifyLevel::Mentions => mentions_me || is_direct,
        NotifyLevel::None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_round_trip_and_refuse_others() {
        for level in [NotifyLevel::All, NotifyLevel::Mentions, NotifyLevel::None] {
            assert_eq!(NotifyLevel::parse(level.as_str()), Ok(level));
        }
        assert_eq!(NotifyLevel::parse("ALL").map_err(|e| e.field), Err("level"));
        assert!(NotifyLevel::parse("").is_err());
    }

    #[test]
    fn direct_rooms_default_to_all_and_others_to_mentions() {
        assert_eq!(NotifyLevel::default_for(RoomKind::Direct), NotifyLevel::All);
        assert_eq!(
            NotifyLevel::default_for(RoomKind::Public),
            NotifyLevel::Mentions
        );
        assert_eq!(
            NotifyLevel::default_for(RoomKind::Private),
            NotifyLevel::Mentions
        );
        assert_eq!(
            NotifyLevel::or_default(Some(NotifyLevel::None), RoomKind::Direct),
            NotifyLevel::None
        );
    }

    #[test]
    fn should_push_by_level() {
        use NotifyLevel::*;
        // (level, direct, mentions me) → pushed
        let table = [
            (All, false, false, true),
            (All, false, true, true),
            (All, true, false, true),
            (Mentions, false, false, false),
            (Mentions, false, true, true),
            (Mentions, true, false, true),
            (None, false, true, false),
            (None, true, false, false),
            (None, true, true, false),
        ];
        for (level, direct, mention, expected) in table {
            assert_eq!(
                should_push(level, direct, mention),
                expected,
                "{level:?} direct={direct} mention={mention}"
            );
        }
    }
}
