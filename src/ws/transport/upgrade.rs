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
pub fn origin_allowed(head: &RequestHead, allowed: &[String]) -> bool {
    let header = |name: &str| head.headers.get(name).and_then(|v| v.to_str().ok());
    let Some(origin) = header("origin") else {
        // Not a browser: nothing to check.
        return true;
    };
    if allowed.is_empty() {
        // The page's own host, as the browser addressed it (or the proxy passed it on).
        let host = header("x-forwarded-host")
            .and_then(|h| h.split(',').next())
            .or_else(|| header("host"))
            .unwrap_or_default()
            .trim();
        origin_is_host(origin, host)
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
