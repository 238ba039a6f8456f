//! The pool and the bounded bridge that keeps blocking diesel calls off async threads.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::StorageError;
use super::conn::{DbConn, Manager};
use super::url::{Backend, DbUrl};

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// A handle to the database, cheap to clone.
///
/// Every query runs on tokio's blocking threads through [`Db::run`], at most `pool_size`
/// at a time; callers beyond that wait for a permit instead of piling up threads.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    permits: Arc<Semaphore>,
    url: DbUrl,
}

impl Db {
    /// Opens a pool. Fails if the first connection cannot be made, naming the database
    /// by its redacted URL only.
    pub fn connect(url: &DbUrl, pool_size: u32, timeout: Duration) -> Result<Self, StorageError> {
        if let DbUrl::Sqlite(path) = url
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StorageError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1))
            .connection_timeout(timeout)
            .test_on_check_out(false)
            .build(Manager::new(url.clone()))
            .map_err(|e| StorageError::Unavailable(format!("{}: {e}", url.redacted())))?;
        Ok(Self {
            pool,
            permits: Arc::new(Semaphore::new(pool_size as usize)),
            url: url.clone(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.url.backend()
    }

    /// A connection for blocking code (commands, tests, the inside of [`Db::run`]).
    pub fn get(&self) -> Result<PooledConn, StorageError> {
        Ok(self.pool.get()?)
    }

    /// Runs blocking database work off the async threads, bounded by the pool size.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| StorageError::Cancelled(e.to_string()))?;
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StorageError::Cancelled(e.to_string()))?
    }

    /// Checks that the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.run(|conn| {
            use diesel::connection::SimpleConnection;
            conn.batch_execute("SELECT 1").map_err(StorageError::from)
        })
        .await
    }
}
