//! Types and validation shared by every role, and the traits through which one role uses
//! another. No I/O here.

mod draft;
mod error;
mod event;
mod message;
mod names;
mod notify;
pub mod services;
mod workspace;

pub use draft::{Change, Draft, RejectCode, Rejection, SaveOutcome};
pub use error::ValidationError;
pub use event::{Deletion, EventKind, MembershipChange, RoomEvent};
pub use message::{ClientId, MAX_CONTENT_CHARS, Message, MessageContent};
pub use names::{Password, RoomName, Username};
pub use notify::{NotifyLevel, should_push};
pub use workspace::{DIRECT_MAX, DIRECT_MIN, Registration, Role, RoomKind};
