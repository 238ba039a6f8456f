//! The contract's error shape: `{"error": {"code": "<snake_case>", "message": "<text>"}}`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::accounts::AccountError;
use crate::domain::ValidationError;
use crate::storage::StorageError;

/// Every way a request can fail, mapped to a status and a stable code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    /// 401 `invalid_credentials`: the same for an unknown user and a wrong password.
    #[error("{0}")]
    Credentials(String),
    /// 401 with a code of its own (`totp_required`).
    #[error("{message}")]
    Challenge { code: &'static str, message: String },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 403 with a code of its own (`invite_required`, `account_deactivated`, …).
    #[error("{message}")]
    Denied { code: &'static str, message: String },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("too many requests; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("{0}")]
    Unavailable(String),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Credentials(_) => "invalid_credentials",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict { code, .. }
            | ApiError::Denied { code, .. }
            | ApiError::Challenge { code, .. } => code,
            ApiError::PayloadTooLarge(_) => "too_large",
            ApiError::Invalid(_) => "invalid_field",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Storage(e) if e.is_unavailable() => "database_unavailable",
            ApiError::Storage(_) | ApiError::Internal(_) => "internal",
        }
    }

    /// The text a client sees. Internal details stay in the log.
    fn public_message(&self) -> String {
        match self {
            ApiError::Storage(e) if e.is_unavailable() => "the database is unavailable".into(),
            ApiError::Storage(_) | ApiError::Internal(_) => "internal error".into(),
            other => other.to_string(),
        }
    }

    /// The contract's error shape: `{"error": {"code", "message", "field"?}}`.
    fn body(&self) -> serde_json::Value {
        let mut body = json!({"error": {"code": self.code(), "message": self.public_message()}});
        if let ApiError::Invalid(v) = self {
            body["error"]["field"] = json!(v.field);
        }
        body
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) | ApiError::Credentials(_) | ApiError::Challenge { .. } => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden(_) | ApiError::Denied { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Storage(e) if e.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Storage(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = HttpResponse::build(status).json(self.body());
        if let ApiError::RateLimited { retry_after_secs } = self
            && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Invalid(v) => ApiError::Invalid(v),
            AccountError::UsernameTaken => ApiError::Conflict {
                code: "username_taken",
                message: e.to_string(),
            },
            AccountError::EmailTaken => ApiError::Conflict {
                code: "email_taken",
                message: e.to_string(),
            },
            AccountError::InvalidCredentials => ApiError::Credentials(e.to_string()),
            AccountError::InviteRequired => ApiError::Denied {
                code: "invite_required",
                message: e.to_string(),
            },
            AccountError::RegistrationClosed => ApiError::Denied {
                code: "registration_closed",
                message: e.to_string(),
            },
            AccountError::Deactivated => ApiError::Denied {
                code: "account_deactivated",
                message: e.to_string(),
            },
            AccountError::InvalidSession => ApiError::Unauthorized(e.to_string()),
            AccountError::TotpRequired => ApiError::Challenge {
                code: "totp_required",
                message: e.to_string(),
            },
            AccountError::WrongPassword => ApiError::Denied {
                code: "wrong_password",
                message: e.to_string(),
            },
            AccountError::RateLimited { retry_after_secs } => {
                ApiError::RateLimited { retry_after_secs }
            }
            AccountError::Unavailable(m) => ApiError::Unavailable(m),
            AccountError::Storage(s) => ApiError::Storage(s),
            AccountError::Token(t) => ApiError::Internal(t.to_string()),
            AccountError::Internal(m) => ApiError::Internal(m),
        }
    }
}

/// For unmatched routes: a 404 in the contract's shape rather than an empty body.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("no such endpoint".into()))
}

/// Turns body and query extraction failures into the contract's shape (400 or 413).
pub fn json_config() -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default()
        .limit(64 * 1024)
        .error_handler(|err, _req| {
            use actix_web::error::JsonPayloadError;
            let api = match &err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => {
                    ApiError::PayloadTooLarge("request body is too large".into())
                }
                JsonPayloadError::ContentType => {
                    ApiError::BadRequest("expected Content-Type: application/json".into())
                }
                other => ApiError::BadRequest(format!("malformed JSON body: {other}")),
            };
            api.into()
        })
}

pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default().error_handler(|err, _req| bad_query(err).into())
}

/// A query string the `Query` extractor could not deserialize: 400 `bad_request`.
pub fn bad_query(err: actix_web::error::QueryPayloadError) -> ApiError {
    ApiError::BadRequest(format!("bad query string: {err}"))
}

impl ApiError {
    /// The whole HTTP/1.1 response, closing the connection: for a socket taken over from
    /// actix-http before any response was written (a refused WebSocket handshake).
    pub fn to_http1(&self) -> Vec<u8> {
        let status = self.status_code();
        let body = self.body().to_string();
        format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            body.len()
        )
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn errors_have_the_contract_shape() {
        let err = ApiError::Invalid(ValidationError::new("username", "too short"));
        let response = err.error_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = to_bytes(response.into_body()).await.expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["error"]["code"], "invalid_field");
        assert_eq!(v["error"]["field"], "username");

        let response = ApiError::RateLimited {
            retry_after_secs: 7,
        }
        .error_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("7")
        );

        let response = ApiError::Internal("secret detail".into()).error_response();
        let body = to_bytes(response.into_body()).await.expect("body");
        assert!(!String::from_utf8_lossy(&body).contains("secret detail"));
    }
}
