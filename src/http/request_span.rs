//! Request logging with tracing-actix-web, recording the path but never the query string
//! (a WebSocket URL carries the access token there).

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
            path = %request.path(),
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

pub type RequestLogger = tracing_actix_web::TracingLogger<PathOnlySpan>;

pub fn logger() -> RequestLogger {
    tracing_actix_web::TracingLogger::<PathOnlySpan>::new()
}
