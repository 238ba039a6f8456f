//! How `front` signs people in: `auth` holds the signing key.

use std::net::IpAddr;

use async_trait::async_trait;

use crate::accounts::{AccountError, Issued, Registered};

#[async_trait(?Send)]
pub trait AuthApi {
    /// Signs in and asks for a session token as well as an access token.
    async fn login(
        &self,
        username: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<Issued, AccountError>;

    async fn register(
        &self,
        username: &str,
        password: &str,
        email: Option<&str>,
        invite: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<Registered, AccountError>;

    /// A fresh access token for a session token.
    async fn refresh(&self, session_token: &str) -> Result<Issued, AccountError>;
}
