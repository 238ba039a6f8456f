//! The WebSocket handshake, checked before a socket is taken over: the page's origin, a
//! well-formed upgrade request. A refused handshake is answered in the contract's error
//! shape and the socket closed.

use std::sync::Arc;

use actix_http::RequestHead;
use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::outbox::Outbox;
use super::socket::{Inbound, Live, SocketSettings, take_over};
use crate::http::ApiError;
use crate::http::origin::origin_is_host;

/// Answers an upgrade request that will not become a socket.
pub async fn refuse(mut io: TcpStream, error: ApiError) -> std::io::Result<()> {
    io.write_all(&error.to_http1()).await
}

/// Whether the handshake's `Origin` may open a socket: any, for a client that sends none
/// (not a browser); else one of `allowed`, or the page's own host when `allowed` is empty.
/// An `Origin`, `Host` or `X-Forwarded-Host` that is not readable text (browsers send
/// ASCII) refuses the socket: it must not count as no `Origin` at all.
pub fn origin_allowed(head: &RequestHead, allowed: &[String]) -> bool {
    let Some(origin) = head.headers.get("origin") else {
        // Not a browser: nothing to check.
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if allowed.is_empty() {
        // The page's own host, as the browser addressed it (or the proxy passed it on).
        let host = match head.headers.get("x-forwarded-host") {
            Some(forwarded) => forwarded.to_str().ok().and_then(|h| h.split(',').next()),
            None => head.headers.get("host").and_then(|h| h.to_str().ok()),
        };
        let host = host.unwrap_or_default().trim();
        !host.is_empty() && origin_is_host(origin, host)
    } else {
        allowed
            .iter()
            .any(|a| a.trim_end_matches('/') == origin.trim_end_matches('/'))
    }
}

/// Checks the handshake and, if it passes, takes the socket over (`101`). `None`: it was
/// refused and answered. `allowed_origins` empty: the page's own host only.
pub async fn accept(
    io: TcpStream,
    leftover: BytesMut,
    head: &RequestHead,
    allowed_origins: &[String],
    settings: SocketSettings,
    live: &Arc<Live>,
) -> std::io::Result<Option<(Outbox, Inbound)>> {
    if !origin_allowed(head, allowed_origins) {
        let refused = ApiError::Forbidden("this origin may not open a chat socket".into());
        refuse(io, refused).await?;
        return Ok(None);
    }
    if let Err(e) = actix_http::ws::handshake(head) {
        refuse(
            io,
            ApiError::BadRequest(format!("not a WebSocket handshake: {e}")),
        )
        .await?;
        return Ok(None);
    }
    let Some(key) = head
        .headers
        .get("sec-websocket-key")
        .map(|k| k.as_bytes().to_vec())
    else {
        refuse(
            io,
            ApiError::BadRequest("Sec-WebSocket-Key is missing".into()),
        )
        .await?;
        return Ok(None);
    };
    take_over(io, leftover, &key, settings, live)
        .await
        .map(Some)
}

#[cfg(test)]
mod tests {
    use actix_http::header::{HeaderName, HeaderValue};

    use super::*;

    fn head(headers: &[(&'static str, &[u8])]) -> RequestHead {
        let mut head = RequestHead::default();
        for (name, value) in headers {
            head.headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_bytes(value).expect("header"),
            );
        }
        head
    }

    #[test]
    fn an_unreadable_origin_is_refused_not_ignored() {
        // Found by the ws_handshake fuzz target: an Origin with a byte over 0x7f could not
        // be read as text and counted as no Origin at all, so any host passed.
        let foreign = head(&[
            ("host", b"chat.example"),
            ("origin", b"https://\xc3\xa9vil.example"),
        ]);
        assert!(!origin_allowed(&foreign, &[]));
        assert!(!origin_allowed(&foreign, &["https://chat.example".into()]));
        let unreadable_host = head(&[("host", b"\xff.example"), ("origin", b"https://")]);
        assert!(!origin_allowed(&unreadable_host, &[]));
        let unreadable_proxy = head(&[
            ("host", b"chat.example"),
            ("x-forwarded-host", b"\xff"),
            ("origin", b"https://chat.example"),
        ]);
        assert!(!origin_allowed(&unreadable_proxy, &[]));

        // What passed before still passes.
        assert!(origin_allowed(&head(&[("host", b"chat.example")]), &[]));
        let own = head(&[
            ("host", b"chat.example"),
            ("origin", b"https://chat.example"),
        ]);
        assert!(origin_allowed(&own, &[]));
        let proxied = head(&[
            ("host", b"127.0.0.1:5000"),
            ("x-forwarded-host", b"chat.example, proxy"),
            ("origin", b"https://chat.example/"),
        ]);
        assert!(origin_allowed(&proxied, &[]));
    }

    #[test]
    fn the_fuzzers_crashing_input_holds_now() {
        // fuzz/artifacts/ws_handshake/crash-1a7e68b5… (minimised).
        crate::properties::handshake::check(include_bytes!(
            "../../../fuzz/corpus/ws_handshake/crash-unreadable-origin"
        ));
    }
}
