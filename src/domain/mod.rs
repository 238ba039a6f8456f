//! Types and validation shared by every role. No I/O here.

mod error;
mod message;
mod names;
mod store;

pub use error::ValidationError;
pub use message::{ClientId, MAX_CONTENT_CHARS, Message, MessageContent};
pub use names::{Password, RoomName, Username};
pub use store::{Draft, MessageStore, SaveOutcome, StoreFactory, StoreUnavailable};
