//! Chat over a WebSocket: the protocol's client frames, one task per connection, and the
//! persister that stores what connections write before anyone is told of it.

pub mod connection;
pub mod drain;
pub mod lanes;
pub mod persister;
pub mod protocol;

pub use connection::{ConnLimits, Connection, merge_users};
pub use drain::Drain;
pub use lanes::{SaveJob, SaveLanes};
pub use persister::PersistSettings;
