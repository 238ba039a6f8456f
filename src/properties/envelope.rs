//! The Redis bus's envelope format ([`encode`], [`decode`]).
//!
//! Properties:
//! - `decode` never panics, whatever another node (or anyone who can publish on the
//!   channel) sends;
//! - what it decodes is consistent: the routing fields hold no newline, the JSON is the
//!   payload's tail, and encoding the envelope again decodes to the same envelope;
//! - `encode` then `decode` gives back every field for any values the routing fields can
//!   hold (no newline: a node id is hex, a room a room name, a user a username, a session
//!   id base64) and any JSON text (newlines included), for every topic.

use super::Source;
use crate::domain::EventKind;
use crate::ws::bus::redis::envelope::{Envelope, Presence, Topic, decode, encode};

pub fn check(data: &[u8]) {
    let mut src = Source::new(data);
    if src.bool() {
        let payload = String::from_utf8_lossy(src.rest()).into_owned();
        decoded(&payload);
    } else {
        round_trip(&mut src);
    }
}

fn decoded(payload: &str) {
    let Some(envelope) = decode(payload) else {
        return;
    };
    let arg = match envelope.topic {
        Topic::Presence { user, .. } | Topic::AccountClosed { user } => user,
        Topic::SessionEnded { session } => session,
        Topic::Event { .. } | Topic::Heartbeat => "",
    };
    for field in [envelope.node, envelope.room, arg] {
        assert!(
            !field.contains('\n'),
            "a routing field holds a newline: {envelope:?}"
        );
    }
    assert!(
        payload.ends_with(envelope.json),
        "the JSON is not the payload's tail"
    );
    again(&envelope);
}

/// Encoding a decoded envelope decodes to it again.
fn again(envelope: &Envelope<'_>) {
    let text = encode(envelope.node, envelope.room, envelope.topic, envelope.json);
    assert_eq!(
        decode(&text).as_ref(),
        Some(envelope),
        "{envelope:?} encodes to {text:?}, which decodes otherwise"
    );
}

/// A routing field: anything but a newline.
fn field(src: &mut Source<'_>) -> String {
    let s = match src.u8() % 4 {
        0 => src
            .pick(&[
                "",
                "general",
                "deleted-7",
                "Zm9vYmFy",
                "0123abcd",
                "chat",
                "join",
            ])
            .to_owned(),
        _ => src.string(24),
    };
    s.replace('\n', "")
}

fn round_trip(src: &mut Source<'_>) {
    let node = field(src);
    let room = field(src);
    let arg = field(src);
    let topic = match src.u8() % 6 {
        0 => Topic::Event {
            kind: src.pick(&EventKind::ALL),
            seq: src.u64(),
        },
        1 => Topic::Presence {
            kind: src.pick(&[Presence::Typing, Presence::Join, Presence::Leave]),
            user: &arg,
        },
        2 => Topic::AccountClosed { user: &arg },
        3 => Topic::SessionEnded { session: &arg },
        _ => Topic::Heartbeat,
    };
    let json = match src.u8() % 3 {
        0 => r#"{"type":"chat","content":"two\nlines"}"#.to_owned(),
        _ => String::from_utf8_lossy(src.rest()).into_owned(),
    };
    let envelope = Envelope {
        node: &node,
        room: &room,
        topic,
        json: &json,
    };
    again(&envelope);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_hold_their_properties() {
        super::super::runner::check("bus_envelope", 3000, check);
    }
}
