//! Client frame parsing ([`parse`], [`client_id_of`]): arbitrary text, and JSON frames
//! built here with fields of every type and size.
//!
//! Properties:
//! - neither ever panics;
//! - an accepted frame is a JSON object and carries valid domain values (room name, content 1–4000 characters
//!   without NUL, client id 1–64 characters without control characters), keeps the
//!   client's `client_id` as sent (or gets a `srv-` one when it sent none), and parses
//!   again, written back as JSON, to the same command;
//! - a refused frame is answered `bad_request` or `too_large` in an error frame that is
//!   valid JSON; the client id it echoes is the frame's own (or the one assigned to it),
//!   and never over 256 bytes;
//! - `client_id_of` finds only a string `client_id` of the frame, at most 256 bytes.

use serde_json::{Map, Value, json};

use super::Source;
use crate::ws::chat::protocol::{Command, client_id_of, parse};
use crate::ws::frames::{self, ErrorCode};

const ECHO_MAX: usize = 256;

pub fn check(data: &[u8]) {
    let mut src = Source::new(data);
    if src.bool() {
        one(src.rest());
    } else {
        one(built(&mut src).as_bytes());
    }
}

/// The frame's `client_id` to a strict parser (`Some(None)`: no string one); `None`
/// when the text is not JSON to it (serde skips the fields a frame ignores without
/// checking their strings' UTF-8 or surrogates). Where a key is repeated, the last wins.
fn strict_client_id(text: &[u8]) -> Option<Option<String>> {
    let value: Value = serde_json::from_slice(text).ok()?;
    Some(
        value
            .get("client_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
    )
}

fn one(text: &[u8]) {
    let strict = strict_client_id(text);
    let id_of = client_id_of(text);
    if let Some(id) = &id_of {
        assert!(
            id.len() <= ECHO_MAX,
            "client_id_of gives {} bytes",
            id.len()
        );
        if let Some(own) = &strict {
            assert_eq!(
                own.as_ref(),
                Some(id),
                "client_id_of finds another id than the frame's"
            );
        }
    }
    // The frame's own id, as far as it has one (a repeated `client_id` has none).
    let own = id_of.or_else(|| strict.flatten().filter(|id| id.len() <= ECHO_MAX));
    match parse(text) {
        Ok(command) => accepted(text, &command, own.as_deref()),
        Err(refused) => {
            assert!(
                matches!(refused.code, ErrorCode::BadRequest | ErrorCode::TooLarge),
                "a frame is refused with {:?}",
                refused.code
            );
            if let Some(id) = &refused.client_id {
                assert!(
                    id.len() <= ECHO_MAX,
                    "an echoed client id of {} bytes",
                    id.len()
                );
                assert!(
                    own.as_deref() == Some(id.as_str())
                        || (own.is_none() && id.starts_with("srv-")),
                    "the error echoes {id:?}, not the frame's client id {own:?}"
                );
            }
            let frame = frames::error(refused.code, &refused.message, refused.client_id.as_deref());
            let json = json_of(&frame);
            assert_eq!(json["type"], "error");
            assert_eq!(json["code"], refused.code.as_str());
            assert_eq!(
                json.get("client_id").and_then(Value::as_str),
                refused.client_id.as_deref()
            );
        }
    }
}

/// The JSON of a server text frame (header stripped: server frames are unmasked).
fn json_of(frame: &[u8]) -> Value {
    let start = match frame.get(1).map(|b| b & 0x7f) {
        Some(126) => 4,
        Some(127) => 10,
        _ => 2,
    };
    serde_json::from_slice(&frame[start..]).expect("an error frame is JSON")
}

fn accepted(text: &[u8], command: &Command, own: Option<&str>) {
    if let Ok(value) = serde_json::from_slice::<Value>(text) {
        assert!(
            value.is_object(),
            "a frame that is not a JSON object is accepted"
        );
    }
    let (json, client_id) = match command {
        Command::Join(room) => (json!({"type": "join", "room": room.as_str()}), None),
        Command::Leave(room) => (json!({"type": "leave", "room": room.as_str()}), None),
        Command::Typing(room) => (json!({"type": "typing", "room": room.as_str()}), None),
        Command::Chat {
            room,
            content,
            client_id,
        } => {
            let content = content.as_str();
            assert!(!content.trim().is_empty() && content.trim() == content);
            assert!(content.chars().count() <= crate::domain::MAX_CONTENT_CHARS);
            assert!(!content.contains('\0'));
            (
                json!({"type": "chat", "room": room.as_str(), "content": content,
                    "client_id": client_id.as_str()}),
                Some(client_id),
            )
        }
        Command::Delete {
            room,
            id,
            client_id,
        } => (
            json!({"type": "delete", "room": room.as_str(), "id": id,
                "client_id": client_id.as_str()}),
            Some(client_id),
        ),
    };
    if let Some(client_id) = client_id {
        let id = client_id.as_str();
        assert!((1..=64).contains(&id.chars().count()));
        assert!(!id.chars().any(char::is_control));
        match own {
            Some(own) => assert_eq!(id, own, "the client's id was replaced"),
            None => assert!(id.starts_with("srv-"), "an assigned id {id:?}"),
        }
    }
    let again = parse(json.to_string().as_bytes());
    assert_eq!(
        again.as_ref(),
        Ok(command),
        "{:?} parsed to {command:?}, which written back parses otherwise",
        String::from_utf8_lossy(text)
    );
}

/// A string of the kinds frames hold, from ordinary to hostile.
fn text(src: &mut Source<'_>) -> String {
    match src.u8() % 12 {
        0 => src
            .pick(&["general", "dev", "a", "no_such-room", "Bad Room", "", "é"])
            .to_owned(),
        1 => "x".repeat(src.pick(&[63, 64, 65, 256, 257, 4000, 4001])),
        2 => "é".repeat(src.pick(&[32, 64, 65, 128, 129, 4000, 4001])),
        3 => format!("{}\0{}", src.string(4), src.string(4)),
        4 => src
            .pick(&[
                " ",
                "\t\n",
                "\u{7f}",
                "\u{200b}",
                "\u{1b}[31m",
                "srv-0",
                "\u{feff}",
            ])
            .to_owned(),
        5 => format!("  {}  ", src.string(16)),
        _ => src.string(40),
    }
}

fn value(src: &mut Source<'_>) -> Value {
    match src.u8() % 10 {
        0 => Value::Null,
        1 => json!(src.u64() as i64),
        2 => json!(f64::from(src.u32()) / 7.0),
        3 => json!(src.bool()),
        4 => json!([text(src)]),
        5 => json!({"nested": text(src)}),
        6 => json!(src.pick(&[i64::MAX, i64::MIN, 0, -1, 1])),
        _ => json!(text(src)),
    }
}

/// A JSON frame: a known type (or not), the fields it needs (or not), of the right type
/// (or not), sometimes with extra fields or repeated keys.
fn built(src: &mut Source<'_>) -> String {
    let mut frame = Map::new();
    let kind = src.pick(&[
        "chat", "join", "leave", "typing", "delete", "dance", "Chat", "",
    ]);
    if !src.u8().is_multiple_of(8) {
        frame.insert("type".into(), json!(kind));
    }
    for field in ["room", "content", "client_id", "id", "sender"] {
        match src.u8() % 4 {
            0 => {}
            1 => {
                frame.insert(field.into(), value(src));
            }
            _ => {
                let v = match field {
                    "id" => json!(src.u64() as i64 % 1000),
                    _ => json!(text(src)),
                };
                frame.insert(field.into(), v);
            }
        }
    }
    let mut out = Value::Object(frame).to_string().into_bytes();
    match src.u8() % 16 {
        // A repeated key.
        0 if out.len() > 1 => {
            out.splice(1..1, br#""room":"general","#.iter().copied());
        }
        // Trailing bytes.
        1 => out.extend_from_slice(src.string(4).as_bytes()),
        // Cut short (perhaps inside a character).
        2 => out.truncate(src.below(out.len() + 1)),
        _ => {}
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frame_parsing_holds_its_properties() {
        super::super::runner::check("chat_protocol", 3000, check);
    }
}
