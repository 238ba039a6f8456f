//! Where `GET /api/presence` learns who is online: the hub itself inside `all`, or a `ws`
//! node's internal endpoint when the roles run apart (`front.ws_url`).

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::domain::StoreUnavailable;

pub type PresenceFn =
    dyn Fn(&str) -> futures_util::future::LocalBoxFuture<'static, Vec<String>> + Send + Sync;

pub enum PresenceSource {
    Direct(Arc<PresenceFn>),
    Http {
        base: String,
        token: Option<SecretString>,
        client: awc::Client,
    },
    Unconfigured,
}

impl PresenceSource {
    pub async fn users(&self, room: &str) -> Result<Vec<String>, StoreUnavailable> {
        match self {
            PresenceSource::Direct(lookup) => Ok(lookup(room).await),
            PresenceSource::Http {
                base,
                token,
                client,
            } => {
                let mut request = client
                    .get(format!("{base}/ws/internal/presence"))
                    .timeout(Duration::from_secs(5))
                    .query(&[("room", room)])
                    .map_err(|e| StoreUnavailable(e.to_string()))?;
                if let Some(token) = token {
                    request = request.insert_header((
                        "Authorization",
                        format!("Bearer {}", token.expose_secret()),
                    ));
                }
                let mut response = request
                    .send()
                    .await
                    .map_err(|e| StoreUnavailable(format!("ws did not answer: {e}")))?;
                if !response.status().is_success() {
                    return Err(StoreUnavailable(format!(
                        "ws answered {}",
                        response.status()
                    )));
                }
                let body: serde_json::Value = response
                    .json()
                    .await
                    .map_err(|e| StoreUnavailable(format!("ws answered badly: {e}")))?;
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
            PresenceSource::Unconfigured => Err(StoreUnavailable(
                "presence is unavailable: set front.ws_url to a ws node".into(),
            )),
        }
    }
}
