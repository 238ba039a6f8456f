//! `ws` apart from `front` (`ws.front_url`): [`EventStore`] over front's internal API,
//! with keep-alive, authenticated by the service credential.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::domain::services::{Admission, Connector, EventStore, Unavailable};
use crate::domain::{Draft, RoomName, SaveOutcome};

/// Builds an [`HttpStore`] per thread.
pub struct HttpStoreConnector {
    pub base: String,
    pub token: SecretString,
    /// The longest one save may take before its outcome counts as unknown (and the batch
    /// is sent again: the same client ids store nothing twice).
    pub timeout: Duration,
}

impl Connector<dyn EventStore> for HttpStoreConnector {
    // The client stays on the thread that built it; Arc is what actix's Data takes.
    #[allow(clippy::arc_with_non_send_sync)]
    fn connect(&self) -> Arc<dyn EventStore> {
        let connector = awc::Connector::new().limit(64);
        let client = awc::Client::builder()
            .connector(connector)
            .timeout(self.timeout)
            .finish();
        Arc::new(HttpStore {
            base: self.base.trim_end_matches('/').to_owned(),
            auth: format!("Bearer {}", self.token.expose_secret()),
            client,
        })
    }
}

pub struct HttpStore {
    base: String,
    auth: String,
    client: awc::Client,
}

#[derive(Deserialize)]
struct SaveReply {
    results: Vec<SaveOutcome>,
}

#[async_trait::async_trait(?Send)]
impl EventStore for HttpStore {
    async fn save(&self, drafts: Vec<Draft>) -> Result<Vec<SaveOutcome>, Unavailable> {
        let mut response = self
            .client
            .post(format!("{}/api/messages/save_message", self.base))
            .insert_header(("Authorization", self.auth.as_str()))
            .send_json(&json!({"messages": drafts}))
            .await
            .map_err(|e| Unavailable(format!("front did not answer: {e}")))?;
        if !response.status().is_success() {
            return Err(Unavailable(format!("front answered {}", response.status())));
        }
        // An outcome this build does not know (a reject code, a status) fails the reply
        // as a whole, loudly, rather than being read as something else.
        let reply: SaveReply = response
            .json()
            .limit(16 << 20)
            .await
            .map_err(|e| Unavailable(format!("front answered badly: {e}")))?;
        Ok(reply.results)
    }

    async fn join(
        &self,
        room: &RoomName,
        user_id: i64,
        username: &str,
    ) -> Result<Admission, Unavailable> {
        // Not cached: a membership can end.
        let response = self
            .client
            .post(format!("{}/api/internal/rooms/{room}/join", self.base))
            .query(&[
                ("user_id", user_id.to_string().as_str()),
                ("username", username),
            ])
            .map_err(|e| Unavailable(format!("a join query: {e}")))?
            .insert_header(("Authorization", self.auth.as_str()))
            .send()
            .await
            .map_err(|e| Unavailable(format!("front did not answer: {e}")))?;
        match response.status().as_u16() {
            200 => Ok(Admission::Joined),
            404 => Ok(Admission::NoSuchRoom),
            403 => Ok(Admission::Refused),
            status => Err(Unavailable(format!("front answered {status}"))),
        }
    }
}
