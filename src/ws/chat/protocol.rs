//! What clients send, parsed once at the door into typed commands: a room name, message
//! content and client id are the domain's types from here on, all the way to storage.

use serde::Deserialize;

use crate::domain::{ClientId, MessageContent, RoomName, ValidationError};
use crate::ws::frames::ErrorCode;

/// A frame as it arrives. Unknown fields (a `sender`, say) are ignored: the sender is
/// always the token's user.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum RawFrame {
    Join {
        room: String,
    },
    Leave {
        room: String,
    },
    Typing {
        room: String,
    },
    Chat {
        room: String,
        content: String,
        #[serde(default)]
        client_id: Option<String>,
    },
    Delete {
        room: String,
        id: i64,
        #[serde(default)]
        client_id: Option<String>,
    },
}

/// A client frame that passed the door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Join(RoomName),
    Leave(RoomName),
    Typing(RoomName),
    Chat {
        room: RoomName,
        content: MessageContent,
        /// The client's, or one assigned here when it gave none.
        client_id: ClientId,
    },
    /// Delete a message (required: a client id, so a retry deletes once).
    Delete {
        room: RoomName,
        id: i64,
        client_id: ClientId,
    },
}

/// Why a frame did not pass: the error frame it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub code: ErrorCode,
    pub message: String,
    /// The client id of the write it answers, as the client sent it.
    pub client_id: Option<String>,
}

impl Refused {
    fn bad(e: ValidationError, client_id: Option<String>) -> Self {
        Self {
            code: ErrorCode::BadRequest,
            message: e.to_string(),
            client_id,
        }
    }
}

/// The longest client id echoed back in an error frame (a longer one is refused and not
/// repeated).
const ECHO_MAX: usize = 256;

/// The `client_id` of a write that is refused before (or without) being parsed: too
/// fast, too large, or of the wrong shape. Its error frame still names it.
pub fn client_id_of(text: &[u8]) -> Option<String> {
    if !is_object(text) {
        return None;
    }
    #[derive(Deserialize)]
    struct Write {
        client_id: Option<serde_json::Value>,
    }
    let write: Write = serde_json::from_slice(text).ok()?;
    match write.client_id? {
        serde_json::Value::String(id) if id.len() <= ECHO_MAX => Some(id),
        _ => None,
    }
}

/// Whether the text is a JSON object, as every frame is. serde reads a struct, and an
/// internally tagged enum, from an array too (`["join","general"]`, the tag first), so
/// that is refused before it is deserialized.
fn is_object(text: &[u8]) -> bool {
    text.iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        == Some(&b'{')
}

/// Parses one text frame.
pub fn parse(text: &[u8]) -> Result<Command, Refused> {
    if !is_object(text) {
        return Err(Refused {
            code: ErrorCode::BadRequest,
            message: "not a valid frame: a frame is a JSON object".into(),
            client_id: None,
        });
    }
    let raw: RawFrame = serde_json::from_slice(text).map_err(|e| Refused {
        code: ErrorCode::BadRequest,
        message: format!("not a valid frame: {e}"),
        client_id: client_id_of(text),
    })?;
    match raw {
        RawFrame::Join { room } => Ok(Command::Join(room_name(&room, None)?)),
        RawFrame::Leave { room } => Ok(Command::Leave(room_name(&room, None)?)),
        RawFrame::Typing { room } => Ok(Command::Typing(room_name(&room, None)?)),
        RawFrame::Delete {
            room,
            id,
            client_id,
        } => {
            let echo = client_id.clone().filter(|c| c.len() <= ECHO_MAX);
            let client_id = client_id
                .ok_or_else(|| {
                    Refused::bad(
                        ValidationError::new("client_id", "is required for a delete"),
                        None,
                    )
                })
                .and_then(|raw| {
                    ClientId::try_from(raw).map_err(|e| Refused::bad(e, echo.clone()))
                })?;
            let room = room_name(&room, echo)?;
            Ok(Command::Delete {
                room,
                id,
                client_id,
            })
        }
        RawFrame::Chat {
            room,
            content,
            client_id,
        } => {
            let echo = client_id.clone().filter(|c| c.len() <= ECHO_MAX);
            let client_id = match client_id {
                Some(raw) => ClientId::try_from(raw).map_err(|e| Refused::bad(e, echo.clone()))?,
                None => ClientId::generate(),
            };
            // From here on the id is valid: errors carry it (assigned ones too).
            let echo = Some(client_id.as_str().to_owned());
            let room = room_name(&room, echo.clone())?;
            if MessageContent::too_long(&content) {
                return Err(Refused {
                    code: ErrorCode::TooLarge,
                    message: format!(
                        "content: must be at most {} characters",
                        crate::domain::MAX_CONTENT_CHARS
                    ),
                    client_id: echo,
                });
            }
            let content = MessageContent::try_from(content).map_err(|e| Refused::bad(e, echo))?;
            Ok(Command::Chat {
                room,
                content,
                client_id,
            })
        }
    }
}

fn room_name(raw: &str, client_id: Option<String>) -> Result<RoomName, Refused> {
    RoomName::parse(raw).map_err(|e| Refused::bad(e, client_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> Refused {
        parse(text.as_bytes()).expect_err("refused")
    }

    #[test]
    fn frames_parse_into_typed_commands_and_ignore_a_spoofed_sender() {
        let chat = parse(
            br#"{"type":"chat","room":"general","content":" hi ","client_id":"c1","sender":"root"}"#,
        );
        assert_eq!(
            chat,
            Ok(Command::Chat {
                room: RoomName::parse("general").expect("room"),
                content: MessageContent::parse("hi").expect("content"),
                client_id: ClientId::parse("c1").expect("id"),
            })
        );
        assert!(matches!(
            parse(br#"{"type":"join","room":"dev"}"#),
            Ok(Command::Join(r)) if r.as_str() == "dev"
        ));
        assert_eq!(refused(r#"{"type":"dance"}"#).code, ErrorCode::BadRequest);
        assert_eq!(refused(r#"{"type":"join"}"#).code, ErrorCode::BadRequest);
        assert_eq!(
            refused(r#"{"type":"join","room":"No"}"#).code,
            ErrorCode::BadRequest
        );
    }

    #[test]
    fn a_chat_without_client_id_gets_one_at_the_door() {
        let Ok(Command::Chat { client_id, .. }) =
            parse(br#"{"type":"chat","room":"general","content":"hi"}"#)
        else {
            panic!("a chat");
        };
        assert!(client_id.as_str().starts_with("srv-"));
    }

    #[test]
    fn nul_and_bad_fields_are_refused_with_the_frames_client_id() {
        let nul =
            refused(r#"{"type":"chat","room":"general","content":"a\u0000b","client_id":"c9"}"#);
        assert_eq!(
            (nul.code, nul.client_id.as_deref()),
            (ErrorCode::BadRequest, Some("c9"))
        );
        let room = refused(r#"{"type":"chat","room":"Bad Room","content":"x","client_id":"c8"}"#);
        assert_eq!(room.client_id.as_deref(), Some("c8"));
        let long = format!(
            r#"{{"type":"chat","room":"general","content":"{}","client_id":"c7"}}"#,
            "x".repeat(4001)
        );
        assert_eq!(refused(&long).code, ErrorCode::TooLarge);
        let cid =
            refused(r#"{"type":"chat","room":"general","content":"x","client_id":"a\u0000"}"#);
        assert_eq!(cid.code, ErrorCode::BadRequest);
        let empty = refused(r#"{"type":"chat","room":"general","content":"   ","client_id":"c6"}"#);
        assert_eq!(empty.code, ErrorCode::BadRequest);
        let shapeless = refused(r#"{"type":"chat","room":"general","client_id":"c5"}"#);
        assert_eq!(
            (shapeless.code, shapeless.client_id.as_deref()),
            (ErrorCode::BadRequest, Some("c5"))
        );
        assert_eq!(client_id_of(br#"{"client_id": 7}"#), None);
        assert_eq!(client_id_of(b"not json"), None);
    }

    #[test]
    fn a_frame_is_an_object_never_an_array() {
        // Found by the chat_protocol fuzz target: serde read `["{"]` as a frame whose
        // client_id was "{", and `["join","general"]` as a join.
        assert_eq!(client_id_of(br#"["{"]"#), None);
        assert_eq!(client_id_of(br#"["c1"]"#), None);
        for text in [
            &br#"["join","general"]"#[..],
            br#" ["chat","general","hi","c1"]"#,
        ] {
            let refused = refused(std::str::from_utf8(text).expect("text"));
            assert_eq!(
                (refused.code, refused.client_id),
                (ErrorCode::BadRequest, None)
            );
        }
        // Whitespace before the object is still JSON.
        assert!(parse(b" \n{\"type\":\"join\",\"room\":\"dev\"}").is_ok());
        crate::properties::protocol::check(include_bytes!(
            "../../../fuzz/corpus/chat_protocol/crash-array-frame"
        ));
    }
}
