//! What one role needs of another, each behind one small trait: `ws` stores room events
//! through [`EventStore`] (front), `front` signs people in through [`AuthApi`] (auth), asks
//! who is online through [`PresenceApi`] (ws) and announces what it changed itself through
//! [`Announcer`] (ws).
//!
//! One pattern for all three. The trait lives here; its in-process implementation lives
//! beside the service that provides it (inside `all` a call is a function call); the HTTP
//! clients for roles that run apart live together in `crate::clients`. A role is handed a
//! [`Connector`], which `server` fills with one or the other, and builds its handle on
//! each worker thread (an HTTP client belongs to one thread).

mod announce;
mod auth;
mod presence;
mod store;

use std::sync::Arc;

pub use announce::Announcer;
pub use auth::AuthApi;
pub use presence::PresenceApi;
pub use store::{Admission, EventStore};

/// Builds a handle to another role's service on the thread that will use it.
pub trait Connector<S: ?Sized>: Send + Sync {
    fn connect(&self) -> Arc<S>;
}

/// The other role could not be reached, or failed as a whole; nothing it was asked to do
/// is known to have happened (a write may still have: resend it with the same client id).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);
