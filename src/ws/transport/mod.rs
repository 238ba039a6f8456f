//! The WebSocket transport, our own over actix-http's codec: the handshake, the socket
//! taken over from the HTTP dispatcher (a reader and a writer task), and each
//! connection's bounded outbound queue. It knows frames, not chat.

pub mod outbox;
pub mod reader;
pub mod socket;
pub mod upgrade;

pub use outbox::{CLOSE_TOO_SLOW, NotQueued, Outbox};
pub use reader::FrameReader;
pub use socket::{Inbound, Live, SocketSettings, encode, text_frame};
