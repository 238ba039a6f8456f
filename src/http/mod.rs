//! HTTP pieces every role shares: the error shape, health, metrics, request logging.

pub mod body;
pub mod client_ip;
pub mod error;
pub mod health;
pub mod metrics;
pub mod origin;
pub mod request_span;

pub use error::ApiError;
