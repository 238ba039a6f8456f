//! bcrypt off the async threads, a bounded number at a time, so a burst of logins queues
//! here instead of stalling every other request.

use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

use super::AccountError;

#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    permits: Arc<Semaphore>,
    /// A hash to check unknown users against, so they cost the same time as known ones.
    /// Made on a background thread at start, so start-up does not wait for bcrypt.
    dummy: Arc<OnceLock<String>>,
}

const DUMMY_PASSWORD: &str = "chatapp-timing-equaliser";

impl PasswordHasher {
    /// `concurrency`: the most hashes computed at once (one per core is right for bcrypt).
    pub fn new(cost: u32, concurrency: usize) -> Result<Self, AccountError> {
        let dummy = Arc::new(OnceLock::new());
        let early = dummy.clone();
        std::thread::Builder::new()
            .name("bcrypt-dummy".into())
            .spawn(move || {
                early.get_or_init(|| dummy_hash(cost));
            })
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        Ok(Self {
            cost,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy,
        })
    }

    pub async fn hash(&self, password: String) -> Result<String, AccountError> {
        let cost = self.cost;
        self.blocking(move || {
            crate::passwords::hash(&password, cost)
                .map_err(|e| AccountError::Internal(e.to_string()))
        })
        .await
    }

    /// Checks `password` against `hash`, or against a dummy hash when there is no user, so
    /// that both take the same time.
    pub async fn verify(
        &self,
        password: String,
        hash: Option<String>,
    ) -> Result<bool, AccountError> {
        let dummy = self.dummy.clone();
        let cost = self.cost;
        self.blocking(move || {
            let against = match &hash {
                Some(hash) => hash.as_str(),
                None => dummy.get_or_init(|| dummy_hash(cost)).as_str(),
            };
            let ok = crate::passwords::verify(&password, against);
            Ok(ok && hash.is_some())
        })
        .await
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, AccountError>
    where
        F: FnOnce() -> Result<T, AccountError> + Send + 'static,
        T: Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?
    }
}

fn dummy_hash(cost: u32) -> String {
    // bcrypt fails only for a cost out of range, which the configuration already refused.
    crate::passwords::hash(DUMMY_PASSWORD, cost).unwrap_or_default()
}
