//! The WebSocket socket below any client library: after the handshake chatapp takes the
//! socket over from the HTTP server, so this checks that what arrives with the handshake,
//! frames split across writes and several frames in one write are all read, and that an
//! upgrade anywhere else is answered in the error shape.

use std::time::Duration;

use chatapp::server::Role;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, TestApp, spawn_app};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// RFC 6455's example: the accept value for [`KEY`].
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn handshake(app: &TestApp, path: &str) -> Vec<u8> {
    let host = app.address.trim_start_matches("http://");
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// A client text frame, masked as RFC 6455 requires.
fn masked(text: &str) -> Vec<u8> {
    let mask = [0x11u8, 0x22, 0x33, 0x44];
    let payload = text.as_bytes();
    let mut frame = vec![0x81];
    if payload.len() < 126 {
        frame.push(0x80 | payload.len() as u8);
    } else {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

struct Raw {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    async fn connect(app: &TestApp) -> Self {
        let tcp = TcpStream::connect(app.address.trim_start_matches("http://"))
            .await
            .expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        Self {
            tcp,
            buf: Vec::new(),
        }
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(20), self.tcp.read(&mut chunk))
            .await
            .expect("the server answers in time")
            .expect("read");
        assert!(n > 0, "the server closed the socket");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// The response head, up to the blank line.
    async fn head(&mut self) -> String {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 4);
                return head;
            }
            self.fill().await;
        }
    }

    /// The next server text frame (unmasked), as JSON.
    async fn frame(&mut self) -> Value {
        loop {
            if self.buf.len() >= 2 {
                let (len, start) = match self.buf[1] & 0x7f {
                    126 if self.buf.len() >= 4 => {
                        (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
                    }
                    126 => (usize::MAX, 0),
                    n => (n as usize, 2),
                };
                if len != usize::MAX && self.buf.len() >= start + len {
                    assert_eq!(self.buf[0], 0x81, "a final text frame");
                    let frame: Vec<u8> = self.buf.drain(..start + len).skip(start).collect();
                    return serde_json::from_slice(&frame).expect("JSON");
                }
            }
            self.fill().await;
        }
    }

    async fn frame_of_type(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.frame().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }
}

#[actix_web::test]
async fn frames_are_read_however_the_bytes_arrive() {
    let app = spawn_app(Role::All, Backend::Sqlite).await;
    let token = crate::chat::user(&app, "rawclient").await;
    let mut raw = Raw::connect(&app).await;

    // The join travels in the same write as the handshake.
    let mut first = handshake(&app, &format!("/ws/chat?token={token}"));
    first.extend(masked(r#"{"type":"join","room":"general"}"#));
    raw.tcp.write_all(&first).await.expect("write");
    let head = raw.head().await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains(&format!(
            "sec-websocket-accept: {}",
            ACCEPT.to_ascii_lowercase()
        )),
        "{head}"
    );
    assert_eq!(raw.frame().await["action"], "online_users");

    // One frame in three writes, then two frames in one write.
    let one = masked(r#"{"type":"chat","room":"general","content":"split","client_id":"s-1"}"#);
    for part in [&one[..1], &one[1..9], &one[9..]] {
        raw.tcp.write_all(part).await.expect("write");
        raw.tcp.flush().await.expect("flush");
    }
    assert_eq!(raw.frame_of_type("ack").await["client_id"], "s-1");
    let mut two = masked(r#"{"type":"chat","room":"general","content":"a","client_id":"s-2"}"#);
    two.extend(masked(
        r#"{"type":"chat","room":"general","content":"b","client_id":"s-3"}"#,
    ));
    raw.tcp.write_all(&two).await.expect("write");
    assert_eq!(raw.frame_of_type("ack").await["client_id"], "s-2");
    assert_eq!(raw.frame_of_type("ack").await["client_id"], "s-3");

    // A frame longer than one read's worth arrives whole.
    let long = "x".repeat(3000);
    let big = masked(&format!(
        r#"{{"type":"chat","room":"general","content":"{long}","client_id":"s-4"}}"#
    ));
    raw.tcp.write_all(&big).await.expect("write");
    let chat = loop {
        let frame = raw.frame_of_type("chat").await;
        if frame["client_id"] == "s-4" {
            break frame;
        }
    };
    assert_eq!(chat["content"].as_str().map(str::len), Some(3000));
    app.stop().await;
}

#[actix_web::test]
async fn upgrades_elsewhere_and_plain_gets_are_answered_in_the_error_shape() {
    let app = spawn_app(Role::All, Backend::Sqlite).await;
    let mut raw = Raw::connect(&app).await;
    raw.tcp
        .write_all(&handshake(&app, "/api/rooms"))
        .await
        .expect("write");
    let head = raw.head().await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .and_then(|v| v.trim().parse().ok())
        .expect("content-length");
    while raw.buf.len() < length {
        raw.fill().await;
    }
    let body: Value = serde_json::from_slice(&raw.buf[..length]).expect("JSON");
    assert_eq!(body["error"]["code"], "not_found");

    let (status, body) = app.get_json("/ws/chat").await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, "bad_request".into())
    );

    // Front alone has no chat socket.
    let front = spawn_app(Role::Front, Backend::Sqlite).await;
    let mut raw = Raw::connect(&front).await;
    raw.tcp
        .write_all(&handshake(&front, "/ws/chat?token=x"))
        .await
        .expect("write");
    assert!(raw.head().await.starts_with("HTTP/1.1 404"));
    app.stop().await;
    front.stop().await;
}
