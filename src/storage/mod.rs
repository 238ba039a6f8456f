//! Storage on SQLite and PostgreSQL through one diesel schema.
//!
//! Blocking by nature: async code reaches it only through [`Db::run`].

pub mod audit;
mod conn;
mod db;
mod error;
pub mod events;
pub mod invites;
pub mod memberships;
pub mod messages;
pub mod migrations;
mod prepared;
pub mod push;
pub mod resets;
pub mod room_events;
pub mod rooms;
pub mod schema;
pub mod sessions;
pub mod totp;
mod url;
pub mod users;

pub use conn::{DbConn, write_transaction};
pub use db::{Db, PooledConn};
pub use error::StorageError;
pub(crate) use prepared::Prepared;
pub use url::{Backend, DbUrl};

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// The current UTC time at the precision both backends keep (microseconds).
pub fn now_utc() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}
