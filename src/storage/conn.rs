//! The connection that speaks both backends, its r2d2 manager, and write transactions.

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;

use super::url::DbUrl;

/// One connection to whichever backend the URL named.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Settings applied to every new SQLite connection: WAL so readers never block the writer,
/// a busy timeout so writers queue instead of failing, full fsync so an acknowledged write
/// survives a power cut, and enforced foreign keys.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = FULL; \
     PRAGMA busy_timeout = 10000; \
     PRAGMA foreign_keys = ON;";

/// Settings applied to every new PostgreSQL connection. diesel prepares its statements,
/// and after five runs PostgreSQL may switch a statement to a generic plan; for the batch
/// look-up `client_id = ANY($1)` the generic plan is a scan of the whole table, which grows
/// with it. Custom plans cost a fraction of a millisecond to make and keep every look-up on
/// its index.
const POSTGRES_SETTINGS: &str = "SET plan_cache_mode = force_custom_plan; SET TIME ZONE 'UTC';";

/// Opens connections for the pool, choosing the backend from the URL scheme.
pub struct Manager {
    url: DbUrl,
}

impl Manager {
    pub fn new(url: DbUrl) -> Self {
        Self { url }
    }

    pub fn connect(url: &DbUrl) -> Result<DbConn, diesel::r2d2::Error> {
        let target = url.connect_string();
        match url {
            DbUrl::Postgres(_) => {
                let mut conn = diesel::PgConnection::establish(&target)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                conn.batch_execute(POSTGRES_SETTINGS)
                    .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConn::Postgres(conn))
            }
            DbUrl::Sqlite(_) => {
                let mut conn = diesel::SqliteConnection::establish(&target)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        Manager::connect(&self.url)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        match conn {
            DbConn::Postgres(c) => c.ping(),
            DbConn::Sqlite(c) => c.ping(),
        }
        .map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        match conn {
            DbConn::Postgres(c) => c.is_broken(),
            DbConn::Sqlite(c) => c.is_broken(),
        }
    }
}

/// Runs `f` in a transaction that may write.
///
/// On SQLite the transaction starts with `BEGIN IMMEDIATE`, taking the write lock up front:
/// a deferred transaction that reads first and writes later can fail with `SQLITE_BUSY`
/// when another writer got in between, which the busy timeout cannot cure.
pub fn write_transaction<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        DbConn::Sqlite(inner) => {
            AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?
        }
        DbConn::Postgres(_) => <DbConn as Connection>::TransactionManager::begin_transaction(conn)?,
    }
    match f(conn) {
        Ok(value) => {
            <DbConn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(err) => match <DbConn as Connection>::TransactionManager::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(err),
            Err(rollback) => Err(rollback.into()),
        },
    }
}
