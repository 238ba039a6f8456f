//! Embedded migrations, one directory per backend, one schema.

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::StorageError;
use super::conn::DbConn;

const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

fn for_backend(conn: &DbConn) -> EmbeddedMigrations {
    match conn {
        DbConn::Postgres(_) => POSTGRES,
        DbConn::Sqlite(_) => SQLITE,
    }
}

fn harness_error(e: Box<dyn std::error::Error + Send + Sync>) -> StorageError {
    StorageError::Migration(e.to_string())
}

/// Applies every pending migration; returns the names of those applied (none: up to date).
pub fn run_pending(conn: &mut DbConn) -> Result<Vec<String>, StorageError> {
    let names = pending(conn)?;
    let migrations = for_backend(conn);
    match conn {
        DbConn::Postgres(c) => c.run_pending_migrations(migrations).map(|_| ()),
        DbConn::Sqlite(c) => c.run_pending_migrations(migrations).map(|_| ()),
    }
    .map_err(harness_error)?;
    Ok(names)
}

/// The names of migrations this binary has that the database has not applied.
pub fn pending(conn: &mut DbConn) -> Result<Vec<String>, StorageError> {
    let migrations = for_backend(conn);
    let names = match conn {
        DbConn::Postgres(c) => c
            .pending_migrations(migrations)
            .map(|p| p.iter().map(|m| m.name().to_string()).collect()),
        DbConn::Sqlite(c) => c
            .pending_migrations(migrations)
            .map(|p| p.iter().map(|m| m.name().to_string()).collect()),
    }
    .map_err(harness_error)?;
    Ok(names)
}

/// Refuses a schema that is behind this binary, telling the operator what to run.
pub fn ensure_current(conn: &mut DbConn) -> Result<(), StorageError> {
    let pending = pending(conn)?;
    if pending.is_empty() {
        Ok(())
    } else {
        Err(StorageError::SchemaBehind(pending.join(", ")))
    }
}
