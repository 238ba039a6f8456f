//! `front` inside `all`: signing in is a call to the accounts service, no HTTP.

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;

use crate::accounts::{AccountError, Accounts, Issued, LoginAttempt, Registered};
use crate::domain::services::{AuthApi, Connector};

/// Inside `all`: the accounts service itself.
#[derive(Clone)]
pub struct DirectAuth(pub Arc<Accounts>);

impl Connector<dyn AuthApi> for DirectAuth {
    fn connect(&self) -> Arc<dyn AuthApi> {
        Arc::new(self.clone())
    }
}

#[async_trait(?Send)]
impl AuthApi for DirectAuth {
    async fn login(&self, attempt: &LoginAttempt<'_>) -> Result<Issued, AccountError> {
        self.0.login(attempt).await
    }

    async fn register(
        &self,
        u: &str,
        p: &str,
        email: Option<&str>,
        invite: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<Registered, AccountError> {
        self.0.register(u, p, email, invite, client).await
    }

    async fn refresh(&self, session_token: &str) -> Result<Issued, AccountError> {
        self.0.refresh(session_token).await
    }

    async fn change_password(
        &self,
        token: &str,
        current: &str,
        new: &str,
    ) -> Result<Vec<String>, AccountError> {
        self.0.change_password(token, current, new).await
    }

    async fn check_password(&self, token: &str, password: &str) -> Result<(), AccountError> {
        self.0.check_password(token, password).await.map(|_| ())
    }

    async fn reset_password(
        &self,
        link_token: &str,
        new: &str,
        client: Option<IpAddr>,
    ) -> Result<Vec<String>, AccountError> {
        self.0.reset_password(link_token, new, client).await
    }
}
