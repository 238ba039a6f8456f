//! `front` apart from `auth` (`front.auth_url`): [`AuthApi`] over HTTP.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::accounts::{AccountError, Issued, LoginAttempt, Registered};
use crate::domain::ValidationError;
use crate::domain::services::{AuthApi, Connector};

/// Builds an [`HttpAuth`] per worker thread.
pub struct HttpAuthConnector {
    pub base: String,
}

impl Connector<dyn AuthApi> for HttpAuthConnector {
    // The client stays on the worker thread that built it; Arc is what actix's Data takes.
    #[allow(clippy::arc_with_non_send_sync)]
    fn connect(&self) -> Arc<dyn AuthApi> {
        Arc::new(HttpAuth::new(&self.base))
    }
}

/// `front` and `auth` apart: `auth`'s JSON API over HTTP. The client address travels in
/// `X-Forwarded-For`, which `auth` believes only if `front` is among its trusted proxies.
pub struct HttpAuth {
    base: String,
    client: awc::Client,
}

impl HttpAuth {
    pub fn new(base: &str) -> Self {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(10))
            .finish();
        Self {
            base: base.trim_end_matches('/').to_owned(),
            client,
        }
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: serde_json::Value,
        client_ip: Option<IpAddr>,
        bearer: Option<&str>,
    ) -> Result<T, AccountError> {
        let mut request = self.client.post(format!("{}{path}", self.base));
        if let Some(ip) = client_ip {
            request = request.insert_header(("X-Forwarded-For", ip.to_string()));
        }
        if let Some(token) = bearer {
            request = request.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let mut response = request
            .send_json(&body)
            .await
            .map_err(|e| AccountError::Unavailable(format!("auth did not answer: {e}")))?;
        let bytes = response
            .body()
            .await
            .map_err(|e| AccountError::Unavailable(format!("auth answered badly: {e}")))?;
        if response.status().is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| AccountError::Unavailable(format!("auth answered badly: {e}")));
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(60);
        Err(error_from(response.status().as_u16(), &bytes, retry_after))
    }
}

/// `auth`'s answer to a change that ended sessions.
#[derive(serde::Deserialize)]
struct Ended {
    ended: Vec<String>,
}

/// Turns `auth`'s error body back into the error it stood for.
fn error_from(status: u16, body: &[u8], retry_after_secs: u64) -> AccountError {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let code = v["error"]["code"].as_str().unwrap_or_default();
    let message = v["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    match code {
        "invalid_credentials" => AccountError::InvalidCredentials,
        "username_taken" => AccountError::UsernameTaken,
        "email_taken" => AccountError::EmailTaken,
        "rate_limited" => AccountError::RateLimited { retry_after_secs },
        "unauthorized" => AccountError::InvalidSession,
        "invite_required" => AccountError::InviteRequired,
        "registration_closed" => AccountError::RegistrationClosed,
        "account_deactivated" => AccountError::Deactivated,
        "totp_required" => AccountError::TotpRequired,
        "wrong_password" => AccountError::WrongPassword,
        "invalid_field" => {
            let field = match v["error"]["field"].as_str() {
                Some("username") => "username",
                Some("password") => "password",
                Some("email") => "email",
                _ => "form",
            };
            let message = message
                .strip_prefix(&format!("{field}: "))
                .unwrap_or(&message)
                .to_owned();
            AccountError::Invalid(ValidationError::new(field, message))
        }
        _ => AccountError::Unavailable(format!("auth answered {status}")),
    }
}

#[async_trait(?Send)]
impl AuthApi for HttpAuth {
    async fn login(&self, a: &LoginAttempt<'_>) -> Result<Issued, AccountError> {
        let body = json!({"username": a.username, "password": a.password, "totp": a.totp,
            "user_agent": a.user_agent, "session": a.with_session});
        self.post("/auth/api/login", body, a.client, None).await
    }

    async fn register(
        &self,
        u: &str,
        p: &str,
        email: Option<&str>,
        invite: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<Registered, AccountError> {
        let body = json!({"username": u, "password": p, "email": email, "invite": invite});
        self.post("/auth/api/register", body, client, None).await
    }

    async fn refresh(&self, session_token: &str) -> Result<Issued, AccountError> {
        self.post("/auth/api/token", json!({}), None, Some(session_token))
            .await
    }

    async fn change_password(
        &self,
        token: &str,
        current: &str,
        new: &str,
    ) -> Result<Vec<String>, AccountError> {
        let body = json!({"current": current, "new": new});
        let ended: Ended = self
            .post("/auth/api/password", body, None, Some(token))
            .await?;
        Ok(ended.ended)
    }

    async fn check_password(&self, token: &str, password: &str) -> Result<(), AccountError> {
        let body = json!({"password": password});
        let _: serde_json::Value = self
            .post("/auth/api/password/check", body, None, Some(token))
            .await?;
        Ok(())
    }

    async fn reset_password(
        &self,
        link_token: &str,
        new: &str,
        client: Option<IpAddr>,
    ) -> Result<Vec<String>, AccountError> {
        let body = json!({"token": link_token, "new": new});
        let ended: Ended = self.post("/auth/api/reset", body, client, None).await?;
        Ok(ended.ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_back() {
        let body = br#"{"error":{"code":"invalid_field","message":"username: must be 3 to 32 characters long","field":"username"}}"#;
        let AccountError::Invalid(v) = error_from(422, body, 0) else {
            panic!("expected a field error");
        };
        assert_eq!(
            (v.field, v.message.as_str()),
            ("username", "must be 3 to 32 characters long")
        );
        assert!(matches!(
            error_from(429, br#"{"error":{"code":"rate_limited","message":""}}"#, 7),
            AccountError::RateLimited {
                retry_after_secs: 7
            }
        ));
        assert!(matches!(
            error_from(502, b"<html>", 0),
            AccountError::Unavailable(_)
        ));
    }
}
