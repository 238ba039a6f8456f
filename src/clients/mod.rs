//! The HTTP clients by which one role reaches another when they run apart, each the
//! networked implementation of a trait in `crate::domain::services` (inside `all` the
//! in-process implementation beside each provider is used instead).

pub mod announce;
pub mod auth;
pub mod presence;
pub mod store;

pub use announce::HttpAnnouncerConnector;
pub use auth::HttpAuthConnector;
pub use presence::HttpPresenceConnector;
pub use store::HttpStoreConnector;
