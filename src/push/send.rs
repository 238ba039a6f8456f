//! One push request (RFC 8030 §5) and what its answer means for the worker.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use bytes::Bytes;

/// RFC 8030 §5.3: how soon the browser should hear of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    Normal,
    High,
}

impl Urgency {
    fn as_str(self) -> &'static str {
        match self {
            Urgency::Normal => "normal",
            Urgency::High => "high",
        }
    }
}

/// A push ready to go: the encrypted body and the VAPID header for its endpoint.
pub struct PushRequest<'a> {
    pub endpoint: &'a str,
    pub body: Bytes,
    pub authorization: String,
    pub ttl_secs: u32,
    pub urgency: Urgency,
}

/// What the push service's answer asks of us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// 404 or 410: the subscription is gone for good; forget it.
    Gone,
    /// A timeout, a connection failure, a 5xx or a 429: try again, after the wait the
    /// service asked for if it did (`Retry-After`).
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    /// Any other answer: trying again would get the same.
    Refused(String),
}

pub async fn send(client: &awc::Client, push: PushRequest<'_>, timeout: Duration) -> Outcome {
    let sent = client
        .post(push.endpoint)
        .timeout(timeout)
        .insert_header(("TTL", push.ttl_secs.to_string()))
        .insert_header(("Urgency", push.urgency.as_str()))
        .insert_header((header::CONTENT_ENCODING, "aes128gcm"))
        .insert_header((header::CONTENT_TYPE, "application/octet-stream"))
        .insert_header((header::AUTHORIZATION, push.authorization))
        .send_body(push.body)
        .await;
    match sent {
        Ok(response) => classify(response.status(), response.headers()),
        Err(e) => Outcome::Retry {
            after: None,
            reason: e.to_string(),
        },
    }
}

fn classify(status: StatusCode, headers: &HeaderMap) -> Outcome {
    match status.as_u16() {
        200..=299 => Outcome::Delivered,
        404 | 410 => Outcome::Gone,
        429 | 500..=599 => Outcome::Retry {
            after: retry_after(headers),
            reason: format!("the push service answered {status}"),
        },
        _ => Outcome::Refused(format!("the push service answered {status}")),
    }
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
    let wait = at.signed_duration_since(chrono::Utc::now());
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    fn with_retry_after(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_str(value).expect("value"),
        );
        headers
    }

    #[test]
    fn answers_are_classified() {
        let none = HeaderMap::new();
        let status = |n| StatusCode::from_u16(n).expect("status");
        assert_eq!(classify(status(201), &none), Outcome::Delivered);
        assert_eq!(classify(status(410), &none), Outcome::Gone);
        assert_eq!(classify(status(404), &none), Outcome::Gone);
        assert!(matches!(
            classify(status(503), &with_retry_after("7")),
            Outcome::Retry { after: Some(d), .. } if d == Duration::from_secs(7)
        ));
        assert!(matches!(
            classify(status(429), &none),
            Outcome::Retry { after: None, .. }
        ));
        assert!(matches!(classify(status(413), &none), Outcome::Refused(_)));
        assert!(matches!(classify(status(403), &none), Outcome::Refused(_)));
    }

    #[test]
    fn retry_after_as_a_date() {
        let later = chrono::Utc::now() + chrono::Duration::seconds(90);
        let headers = with_retry_after(&later.format("%a, %d %b %Y %H:%M:%S GMT").to_string());
        let wait = retry_after(&headers).expect("a wait");
        assert!((85..=90).contains(&wait.as_secs()), "{wait:?}");
        let past = with_retry_after("Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(retry_after(&past), Some(Duration::ZERO));
        assert_eq!(retry_after(&with_retry_after("soon")), None);
    }
}
