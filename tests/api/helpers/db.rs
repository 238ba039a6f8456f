//! Test databases: a SQLite file in a temporary directory, or a fresh PostgreSQL database
//! created for one test and dropped after it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chatapp::storage::{Db, DbUrl, migrations};
use diesel::{Connection, PgConnection, RunQueryDsl};
use tempfile::TempDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the tests find a PostgreSQL server they may create databases on.
pub fn pg_admin_url() -> String {
    std::env::var("CHATAPP_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn pg_admin() -> PgConnection {
    let url = pg_admin_url();
    PgConnection::establish(&url).unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is needed for this test and did not answer at {} ({e}). \
             Run the suite with scripts/test, which starts a throwaway one, or set \
             CHATAPP_TEST_PG_URL.",
            DbUrl::parse(&url).map(|u| u.redacted()).unwrap_or_default()
        )
    })
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub struct TestDb {
    /// The URL chatapp is configured with.
    pub url: String,
    pg_name: Option<String>,
    _dir: TempDir,
}

impl TestDb {
    /// An empty database: no schema yet.
    pub fn empty(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Self {
                    url,
                    pg_name: None,
                    _dir: dir,
                }
            }
            Backend::Postgres => {
                let n = COUNTER.fetch_add(1, Ordering::SeqCst);
                let name = format!("chatapp_test_{}_{n}", std::process::id());
                let mut admin = pg_admin();
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .expect("drop old test database");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .expect("create test database");
                let mut url = url::Url::parse(&pg_admin_url()).expect("admin url");
                url.set_path(&name);
                Self {
                    url: url.to_string(),
                    pg_name: Some(name),
                    _dir: dir,
                }
            }
        }
    }

    pub fn db_url(&self) -> DbUrl {
        DbUrl::parse(&self.url).expect("test url")
    }

    /// A pool on this database, with nothing applied.
    pub fn pool(&self, size: u32) -> Db {
        Db::connect(&self.db_url(), size, Duration::from_secs(10)).expect("open test database")
    }

    /// A pool on this database with every migration applied.
    pub fn migrated(&self, size: u32) -> Db {
        let db = self.pool(size);
        let mut conn = db.get().expect("connection");
        migrations::run_pending(&mut conn).expect("migrate");
        db
    }

    /// Drops a PostgreSQL database now, cutting off whoever is connected.
    pub fn drop_now(&mut self) {
        if let Some(name) = self.pg_name.take() {
            let mut admin = pg_admin();
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .expect("drop test database");
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take()
            && let Ok(mut admin) = PgConnection::establish(&pg_admin_url())
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}
