//! `front` apart from `ws` (`front.ws_url`): [`Announcer`] through a `ws` node's internal
//! API, with the service credential; that node's bus takes it to every node.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::domain::RoomEvent;
use crate::domain::services::{Announcer, Connector, Unavailable};

/// Builds an [`HttpAnnouncer`] per worker thread.
pub struct HttpAnnouncerConnector {
    pub base: String,
    pub token: Option<SecretString>,
}

impl Connector<dyn Announcer> for HttpAnnouncerConnector {
    // The client stays on the worker thread that built it; Arc is what actix's Data takes.
    #[allow(clippy::arc_with_non_send_sync)]
    fn connect(&self) -> Arc<dyn Announcer> {
        Arc::new(HttpAnnouncer {
            base: self.base.trim_end_matches('/').to_owned(),
            token: self.token.clone(),
            client: awc::Client::builder()
                .timeout(Duration::from_secs(5))
                .finish(),
        })
    }
}

pub struct HttpAnnouncer {
    base: String,
    token: Option<SecretString>,
    client: awc::Client,
}

impl HttpAnnouncer {
    async fn post(&self, path: &str, body: serde_json::Value) -> Result<(), Unavailable> {
        let mut request = self.client.post(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request
                .insert_header(("Authorization", format!("Bearer {}", token.expose_secret())));
        }
        let response = request
            .send_json(&body)
            .await
            .map_err(|e| Unavailable(format!("ws did not answer: {e}")))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(Unavailable(format!("ws answered {}", response.status())))
        }
    }
}

#[async_trait::async_trait(?Send)]
impl Announcer for HttpAnnouncer {
    async fn announce(&self, event: &RoomEvent) -> Result<(), Unavailable> {
        self.post("/ws/internal/events", json!({"event": event}))
            .await
    }

    async fn close_account(&self, username: &str) -> Result<(), Unavailable> {
        self.post("/ws/internal/accounts/close", json!({"username": username}))
            .await
    }

    async fn close_sessions(&self, sessions: &[String]) -> Result<(), Unavailable> {
        if sessions.is_empty() {
            return Ok(());
        }
        self.post("/ws/internal/sessions/close", json!({"sessions": sessions}))
            .await
    }
}

/// Neither inside `all` nor given `front.ws_url`: what `front` changes is stored, and
/// clients learn of it from the events feed; open sockets are not told.
pub struct NoAnnouncer;

#[async_trait::async_trait(?Send)]
impl Announcer for NoAnnouncer {
    async fn announce(&self, _event: &RoomEvent) -> Result<(), Unavailable> {
        Err(Unavailable(
            "no ws node to announce through: set front.ws_url".into(),
        ))
    }

    async fn close_account(&self, _username: &str) -> Result<(), Unavailable> {
        Err(Unavailable(
            "no ws node to close sockets through: set front.ws_url".into(),
        ))
    }

    async fn close_sessions(&self, _sessions: &[String]) -> Result<(), Unavailable> {
        Err(Unavailable(
            "no ws node to close sockets through: set front.ws_url".into(),
        ))
    }
}

impl Connector<dyn Announcer> for NoAnnouncer {
    fn connect(&self) -> Arc<dyn Announcer> {
        Arc::new(NoAnnouncer)
    }
}
