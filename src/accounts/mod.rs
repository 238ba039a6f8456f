//! Accounts: registration, login and token issuing. The `auth` role serves this over HTTP;
//! inside `all`, `front` calls it directly. Holds the signing key, so it exists only where
//! `auth` runs.

mod error;
mod hasher;
mod limits;
mod service;
mod sessions;
pub mod totp;

pub use error::AccountError;
pub use hasher::PasswordHasher;
pub use limits::{LimitSettings, LoginLimits};
pub use service::{Accounts, Issued, LoginAttempt, Registered, TokenLifetimes};
