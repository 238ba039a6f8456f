//! `ws` apart from `front`: the store is `front`'s internal API, over awc with keep-alive,
//! authenticated by the service credential.

use std::cell::RefCell;
use std::collections::HashSet;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::domain::{Draft, MessageStore, SaveOutcome, StoreFactory, StoreUnavailable};

pub struct HttpStoreFactory {
    pub base: String,
    pub token: SecretString,
}

impl StoreFactory for HttpStoreFactory {
    fn build(&self) -> Box<dyn MessageStore> {
        let connector = awc::Connector::new().limit(64);
        let client = awc::Client::builder()
            .connector(connector)
            .timeout(Duration::from_secs(10))
            .finish();
        Box::new(HttpStore {
            base: self.base.trim_end_matches('/').to_owned(),
            auth: format!("Bearer {}", self.token.expose_secret()),
            client,
            known_rooms: RefCell::new(HashSet::new()),
        })
    }
}

struct HttpStore {
    base: String,
    auth: String,
    client: awc::Client,
    known_rooms: RefCell<HashSet<String>>,
}

#[derive(Deserialize)]
struct SaveReply {
    results: Vec<SaveOutcome>,
}

#[async_trait::async_trait(?Send)]
impl MessageStore for HttpStore {
    async fn save(&self, drafts: Vec<Draft>) -> Result<Vec<SaveOutcome>, StoreUnavailable> {
        let mut response = self
            .client
            .post(format!("{}/api/messages/save_message", self.base))
            .insert_header(("Authorization", self.auth.as_str()))
            .send_json(&json!({"messages": drafts}))
            .await
            .map_err(|e| StoreUnavailable(format!("front did not answer: {e}")))?;
        if !response.status().is_success() {
            return Err(StoreUnavailable(format!(
                "front answered {}",
                response.status()
            )));
        }
        let reply: SaveReply = response
            .json()
            .limit(16 << 20)
            .await
            .map_err(|e| StoreUnavailable(format!("front answered badly: {e}")))?;
        Ok(reply.results)
    }

    async fn room_exists(&self, room: &str) -> Result<bool, StoreUnavailable> {
        if self.known_rooms.borrow().contains(room) {
            return Ok(true);
        }
        let response = self
            .client
            .get(format!("{}/api/internal/rooms/{room}", self.base))
            .insert_header(("Authorization", self.auth.as_str()))
            .send()
            .await
            .map_err(|e| StoreUnavailable(format!("front did not answer: {e}")))?;
        match response.status().as_u16() {
            200 => {
                self.known_rooms.borrow_mut().insert(room.to_owned());
                Ok(true)
            }
            404 => Ok(false),
            status => Err(StoreUnavailable(format!("front answered {status}"))),
        }
    }
}
