//! bcrypt off the async threads, a bounded number at a time, so a burst of logins queues
//! here instead of stalling every other request.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::AccountError;

#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    permits: Arc<Semaphore>,
    /// A hash to check unknown users against, so they cost the same time as known ones.
    dummy: Arc<String>,
}

impl PasswordHasher {
    /// `concurrency`: the most hashes computed at once (one per core is right for bcrypt).
    pub fn new(cost: u32, concurrency: usize) -> Result<Self, AccountError> {
        let dummy = crate::passwords::hash("chatapp-timing-equaliser", cost)
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        Ok(Self {
            cost,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy: Arc::new(dummy),
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
        self.blocking(move || {
            let ok = crate::passwords::verify(&password, hash.as_deref().unwrap_or(&dummy));
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
