//! The one format of what nodes publish on the events channel, encoded here and, for
//! presence news, by the Lua scripts in `presence.rs` (in the same step as the change; a
//! test decodes what they publish with [`decode`]):
//!
//! `node \n kind \n room \n arg \n json`: the publishing node (a node skips its own), what
//! it is, the room, the event's seq or the user a presence news is about, and the frame's
//! JSON text, delivered as it is.

use crate::domain::EventKind;

/// What an envelope carries, with what it is routed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic<'a> {
    /// A stored room event, delivered in seq order, once.
    Event { kind: EventKind, seq: u64 },
    /// `typing`, `join` or `leave` news about `user`, for the room's other users.
    Presence { kind: Presence, user: &'a str },
    /// `user`'s account can no longer be used (the room is empty): close their sockets.
    AccountClosed { user: &'a str },
    /// A session ended (the room is empty): close the sockets it opened.
    SessionEnded { session: &'a str },
    /// A node is alive and its commands reach Redis (the room is empty): every node hears
    /// something at least this often, so a subscription that hears nothing has gone silent.
    Heartbeat,
}

const ACCOUNT_CLOSED: &str = "account_closed";
const SESSION_ENDED: &str = "session_ended";
const HEARTBEAT: &str = "heartbeat";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Typing,
    Join,
    Leave,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Typing => "typing",
            Presence::Join => "join",
            Presence::Leave => "leave",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [Presence::Typing, Presence::Join, Presence::Leave]
            .into_iter()
            .find(|p| p.as_str() == raw)
    }
}

/// A decoded envelope, borrowing from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    pub node: &'a str,
    pub room: &'a str,
    pub topic: Topic<'a>,
    pub json: &'a str,
}

pub fn encode(node: &str, room: &str, topic: Topic<'_>, json: &str) -> String {
    match topic {
        Topic::Event { kind, seq } => format!("{node}\n{}\n{room}\n{seq}\n{json}", kind.as_str()),
        Topic::Presence { kind, user } => {
            format!("{node}\n{}\n{room}\n{user}\n{json}", kind.as_str())
        }
        Topic::AccountClosed { user } => {
            format!("{node}\n{ACCOUNT_CLOSED}\n{room}\n{user}\n{json}")
        }
        Topic::SessionEnded { session } => {
            format!("{node}\n{SESSION_ENDED}\n{room}\n{session}\n{json}")
        }
        Topic::Heartbeat => format!("{node}\n{HEARTBEAT}\n{room}\n\n{json}"),
    }
}

/// `None` for anything that is not an envelope this build knows (it is ignored).
pub fn decode(payload: &str) -> Option<Envelope<'_>> {
    let mut parts = payload.splitn(5, '\n');
    let (node, kind, room, arg, json) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let topic = match EventKind::parse(kind) {
        Some(kind) => Topic::Event {
            kind,
            seq: arg.parse().ok()?,
        },
        None if kind == ACCOUNT_CLOSED => Topic::AccountClosed { user: arg },
        None if kind == SESSION_ENDED => Topic::SessionEnded { session: arg },
        None if kind == HEARTBEAT => Topic::Heartbeat,
        None => Topic::Presence {
            kind: Presence::parse(kind)?,
            user: arg,
        },
    };
    Some(Envelope {
        node,
        room,
        topic,
        json,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip() {
        let topics = [
            Topic::Event {
                kind: EventKind::Chat,
                seq: 42,
            },
            Topic::Presence {
                kind: Presence::Join,
                user: "ann",
            },
            Topic::Presence {
                kind: Presence::Typing,
                user: "bob",
            },
            Topic::AccountClosed { user: "eve" },
            Topic::SessionEnded {
                session: "Zm9vYmFy",
            },
            Topic::Heartbeat,
        ];
        for topic in topics {
            let json = r#"{"type":"x","content":"two\nlines"}"#;
            let text = encode("n1", "general", topic, json);
            assert_eq!(
                decode(&text),
                Some(Envelope {
                    node: "n1",
                    room: "general",
                    topic,
                    json,
                })
            );
        }
    }

    #[test]
    fn what_is_not_an_envelope_is_ignored() {
        assert_eq!(decode("n1\nchat\ngeneral\nnot-a-seq\n{}"), None);
        assert_eq!(decode("n1\ndance\ngeneral\nann\n{}"), None);
        assert_eq!(decode("n1\nchat\ngeneral"), None);
        assert_eq!(decode(""), None);
    }
}
