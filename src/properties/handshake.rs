//! The socket take-over's parts that need no socket: the `101` answer for any client key,
//! and the origin check before it.
//!
//! Properties:
//! - the `101` answer is exactly four header lines and the blank line, whatever the key
//!   (nothing of the key reaches the answer but its SHA-1 accept value, 28 characters of
//!   base64 for 20 bytes), and the same key always gets the same answer;
//! - a browser's socket from another origin than the page's host (or than every allowed
//!   origin) is refused, one from the same is accepted, a client without `Origin` is
//!   accepted; a proxy's `X-Forwarded-Host` wins over `Host`; an `Origin` that is not
//!   readable text is refused (not taken for no `Origin`).
//!
//! (What the client sends after its request head, the leftover the reader starts with, is
//! covered by the `ws_reader` properties: its first piece is fed that way.)

use actix_http::RequestHead;
use actix_http::header::{HeaderName, HeaderValue};
use base64::Engine;

use super::Source;
use crate::ws::transport::socket::switching_protocols;
use crate::ws::transport::upgrade::origin_allowed;

pub fn check(data: &[u8]) {
    let mut src = Source::new(data);
    let key_len = src.below(80);
    let key = src.bytes(key_len).to_vec();
    answer(&key);
    origins(&mut src);
}

fn answer(key: &[u8]) {
    let head = switching_protocols(key);
    assert_eq!(
        head,
        switching_protocols(key),
        "the answer is not deterministic"
    );
    let text = std::str::from_utf8(&head).expect("the 101 answer is ASCII");
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines.len(),
        6,
        "the 101 answer has other lines than expected: {text:?}"
    );
    assert_eq!(
        lines[..3],
        [
            "HTTP/1.1 101 Switching Protocols",
            "upgrade: websocket",
            "connection: upgrade"
        ]
    );
    assert_eq!(lines[4..], ["", ""]);
    let accept = lines[3]
        .strip_prefix("sec-websocket-accept: ")
        .expect("the accept header");
    assert_eq!(accept.len(), 28);
    let digest = base64::engine::general_purpose::STANDARD
        .decode(accept)
        .expect("the accept value is base64");
    assert_eq!(digest.len(), 20, "the accept value is a SHA-1 digest");
}

fn header(head: &mut RequestHead, name: &'static str, value: &str) -> bool {
    match HeaderValue::from_str(value) {
        Ok(value) => {
            head.headers.insert(HeaderName::from_static(name), value);
            true
        }
        Err(_) => false,
    }
}

/// A host-ish string: sometimes a real one, sometimes anything a header may hold.
fn host(src: &mut Source<'_>) -> String {
    match src.u8() % 4 {
        0 => src
            .pick(&[
                "chat.example",
                "chat.example:8080",
                "127.0.0.1:5000",
                "[::1]:443",
                "evil.example",
            ])
            .to_owned(),
        1 => format!("{}.example", src.string(12)),
        _ => src.string(24),
    }
}

fn origins(src: &mut Source<'_>) {
    let scheme = src.pick(&["https", "http", "wss", "chrome-extension"]);
    let page = host(src);
    let other = host(src);
    let slash = if src.bool() { "/" } else { "" };
    let origin_of = |h: &str| format!("{scheme}://{h}{slash}");
    let trimmed_equal = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');

    // No Origin: not a browser, nothing to check.
    let mut head = RequestHead::default();
    if header(&mut head, "host", &page) {
        assert!(
            origin_allowed(&head, &[]),
            "a request without Origin is refused"
        );
    }

    // A header browsers send is visible ASCII; one that is not must refuse the socket
    // (it once counted as no Origin at all).
    let readable = |s: &str| HeaderValue::from_str(s).is_ok_and(|v| v.to_str().is_ok());
    let mut head = RequestHead::default();
    if header(&mut head, "host", &page)
        && header(&mut head, "origin", &origin_of(&other))
        && !readable(&origin_of(&other))
    {
        assert!(
            !origin_allowed(&head, &[]) && !origin_allowed(&head, &[origin_of(&page)]),
            "an unreadable origin {:?} is accepted",
            origin_of(&other)
        );
    }

    // The page's own host (allowed list empty); a host has no '/' (an origin's trailing
    // one is not part of it).
    let mut head = RequestHead::default();
    let host_ok = header(&mut head, "host", &page);
    if host_ok
        && header(&mut head, "origin", &origin_of(&page))
        && readable(&origin_of(&page))
        && !page.is_empty()
        && !page.contains('/')
        && page.trim() == page
    {
        assert!(
            origin_allowed(&head, &[]),
            "the page's own origin {:?} is refused for host {page:?}",
            origin_of(&page)
        );
    }
    let mut head = RequestHead::default();
    if header(&mut head, "host", &page)
        && header(&mut head, "origin", &origin_of(&other))
        && !trimmed_equal(&other, page.trim())
    {
        assert!(
            !origin_allowed(&head, &[]),
            "origin {:?} is accepted for host {page:?}",
            origin_of(&other)
        );
    }

    // Behind a proxy: X-Forwarded-Host names the page's host, Host the upstream's.
    let mut head = RequestHead::default();
    if header(&mut head, "host", &page)
        && header(&mut head, "x-forwarded-host", &other)
        && header(&mut head, "origin", &origin_of(&page))
        && !trimmed_equal(&page, other.split(',').next().unwrap_or_default().trim())
    {
        assert!(
            !origin_allowed(&head, &[]),
            "the upstream's Host {page:?} wins over X-Forwarded-Host {other:?}"
        );
    }

    // An allowed list: only its origins (readable ones).
    let allowed = vec![origin_of(&page)];
    let mut head = RequestHead::default();
    if header(&mut head, "origin", &origin_of(&other)) {
        assert_eq!(
            origin_allowed(&head, &allowed),
            readable(&origin_of(&other)) && trimmed_equal(&origin_of(&other), &allowed[0]),
            "origin {:?} against the allowed {allowed:?}",
            origin_of(&other)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handshake_holds_its_properties() {
        super::super::runner::check("ws_handshake", 3000, check);
    }

    #[test]
    fn the_accept_value_is_rfc_6455s() {
        // RFC 6455 §1.3's example.
        let head = switching_protocols(b"dGhlIHNhbXBsZSBub25jZQ==");
        let text = String::from_utf8(head).expect("ASCII");
        assert!(text.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    }
}
