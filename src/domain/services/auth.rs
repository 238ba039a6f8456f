//! How `front` signs people in and changes what needs the password: `auth` holds the
//! signing key and the password hashes.

use std::net::IpAddr;

use async_trait::async_trait;

use crate::accounts::{AccountError, Issued, LoginAttempt, Registered};

#[async_trait(?Send)]
pub trait AuthApi {
    /// Signs in (opening a session) and asks for a session token as well as an access token.
    async fn login(&self, attempt: &LoginAttempt<'_>) -> Result<Issued, AccountError>;

    async fn register(
        &self,
        username: &str,
        password: &str,
        email: Option<&str>,
        invite: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<Registered, AccountError>;

    /// A fresh access token for a session token whose session is open.
    async fn refresh(&self, session_token: &str) -> Result<Issued, AccountError>;

    /// Changes the password of the holder of `token` (their access or session token) and
    /// ends their other sessions; returns the ended sessions' ids.
    async fn change_password(
        &self,
        token: &str,
        current: &str,
        new: &str,
    ) -> Result<Vec<String>, AccountError>;

    /// Checks the password of the holder of `token`; `WrongPassword` when it is wrong.
    async fn check_password(&self, token: &str, password: &str) -> Result<(), AccountError>;

    /// Sets a new password through a one-use reset link and ends every session of the
    /// account; returns the ended sessions' ids.
    async fn reset_password(
        &self,
        link_token: &str,
        new: &str,
        client: Option<IpAddr>,
    ) -> Result<Vec<String>, AccountError>;
}
