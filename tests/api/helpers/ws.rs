//! A WebSocket client for tests (tokio-tungstenite), speaking the contract's JSON frames.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long a test waits for a frame before it fails.
pub const FRAME_WAIT: Duration = Duration::from_secs(20);

pub struct WsClient {
    stream: Stream,
}

/// What the server did instead of sending a JSON frame.
#[derive(Debug, PartialEq)]
pub enum Ended {
    Closed(Option<u16>),
    TimedOut,
}

impl WsClient {
    /// Connects to `base` (`http://host:port`) with `?token=`.
    pub async fn connect(base: &str, token: &str) -> Self {
        let url = format!("{}/ws/chat?token={token}", base.replacen("http", "ws", 1));
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("ws connect");
        Self { stream }
    }

    pub async fn send(&mut self, frame: Value) {
        self.stream
            .send(Message::Text(frame.to_string().into()))
            .await
            .expect("ws send");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.stream.send(message).await.expect("ws send");
    }

    /// The next JSON frame, skipping pings; or how the stream ended.
    pub async fn next(&mut self) -> Result<Value, Ended> {
        loop {
            let item = tokio::time::timeout(FRAME_WAIT, self.stream.next())
                .await
                .map_err(|_| Ended::TimedOut)?;
            match item {
                Some(Ok(Message::Text(text))) => {
                    return Ok(serde_json::from_str(&text).expect("server frames are JSON"));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(Ended::Closed(frame.map(|f| u16::from(f.code))));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(Ended::Closed(None)),
            }
        }
    }

    /// The next JSON frame; panics if there is none.
    pub async fn recv(&mut self) -> Value {
        self.next().await.expect("a frame")
    }

    /// The next frame of type `kind`, skipping others (presence, typing, …).
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.recv().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    pub async fn join(&mut self, room: &str) -> Value {
        self.send(serde_json::json!({"type": "join", "room": room}))
            .await;
        self.recv_type("presence").await
    }

    pub async fn close(mut self) {
        let _ = self
            .stream
            .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            }))
            .await;
    }
}
