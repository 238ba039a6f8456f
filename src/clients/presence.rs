//! `front` apart from `ws` (`front.ws_url`): [`PresenceApi`] from a `ws` node's internal
//! endpoint, with the service credential.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::domain::services::{Connector, PresenceApi, Unavailable};

/// Builds an [`HttpPresence`] per worker thread.
pub struct HttpPresenceConnector {
    pub base: String,
    pub token: Option<SecretString>,
}

impl Connector<dyn PresenceApi> for HttpPresenceConnector {
    // The client stays on the worker thread that built it; Arc is what actix's Data takes.
    #[allow(clippy::arc_with_non_send_sync)]
    fn connect(&self) -> Arc<dyn PresenceApi> {
        Arc::new(HttpPresence {
            base: self.base.trim_end_matches('/').to_owned(),
            token: self.token.clone(),
            client: awc::Client::default(),
        })
    }
}

pub struct HttpPresence {
    base: String,
    token: Option<SecretString>,
    client: awc::Client,
}

#[async_trait::async_trait(?Send)]
impl PresenceApi for HttpPresence {
    async fn users(&self, room: &str) -> Result<Vec<String>, Unavailable> {
        let mut request = self
            .client
            .get(format!("{}/ws/internal/presence", self.base))
            .timeout(Duration::from_secs(5))
            .query(&[("room", room)])
            .map_err(|e| Unavailable(e.to_string()))?;
        if let Some(token) = &self.token {
            request = request
                .insert_header(("Authorization", format!("Bearer {}", token.expose_secret())));
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| Unavailable(format!("ws did not answer: {e}")))?;
        if !response.status().is_success() {
            return Err(Unavailable(format!("ws answered {}", response.status())));
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| Unavailable(format!("ws answered badly: {e}")))?;
        Ok(body["users"]
            .as_array()
            .map(|users| {
                users
                    .iter()
                    .filter_map(|u| u.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// Neither inside `all` nor given `front.ws_url`: presence cannot be known.
pub struct NoPresence;

#[async_trait::async_trait(?Send)]
impl PresenceApi for NoPresence {
    async fn users(&self, _room: &str) -> Result<Vec<String>, Unavailable> {
        Err(Unavailable(
            "presence is unavailable: set front.ws_url to a ws node".into(),
        ))
    }
}

impl Connector<dyn PresenceApi> for NoPresence {
    fn connect(&self) -> Arc<dyn PresenceApi> {
        Arc::new(NoPresence)
    }
}
