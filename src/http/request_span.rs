//! Request logging with tracing-actix-web, recording the path but never the query string
//! (a WebSocket URL carries the access token there), nor the token of a password reset
//! link (`/auth/reset/<token>`).

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;

pub struct PathOnlySpan;

impl RootSpanBuilder for PathOnlySpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        tracing::info_span!(
            "http",
            method = %request.method(),
            path = %loggable_path(request.path()),
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let status = match outcome {
            Ok(response) => response.status().as_u16(),
            Err(error) => error.as_response_error().status_code().as_u16(),
        };
        span.record("status", status);
        if status >= 500 {
            tracing::warn!(parent: &span, status, "request failed");
        } else {
            tracing::debug!(parent: &span, status, "request done");
        }
    }
}

/// The path as logged: a reset link's token (a password, for an hour) is left out.
fn loggable_path(path: &str) -> &str {
    if path.starts_with(RESET_PREFIX) {
        RESET_PREFIX_REDACTED
    } else {
        path
    }
}

const RESET_PREFIX: &str = "/auth/reset/";
const RESET_PREFIX_REDACTED: &str = "/auth/reset/…";

pub type RequestLogger = tracing_actix_web::TracingLogger<PathOnlySpan>;

pub fn logger() -> RequestLogger {
    tracing_actix_web::TracingLogger::<PathOnlySpan>::new()
}

#[cfg(test)]
mod tests {
    use super::loggable_path;

    #[test]
    fn a_reset_links_token_is_not_logged() {
        assert_eq!(loggable_path("/auth/reset/s3cr3t"), "/auth/reset/…");
        assert_eq!(loggable_path("/auth/login"), "/auth/login");
        assert_eq!(loggable_path("/api/sessions"), "/api/sessions");
    }
}
