//! `chatapp migrate`: apply pending migrations and exit.

use anyhow::Context;

use crate::config::Settings;
use crate::storage::{Db, migrations};

/// Opens the configured database with one connection and applies what is pending,
/// printing each migration applied.
pub fn run(settings: &Settings) -> anyhow::Result<()> {
    let url = settings.database_url();
    let db = Db::connect(&url, 1, settings.database_timeout())
        .with_context(|| format!("cannot open the database {}", url.redacted()))?;
    let applied = apply(&db)?;
    if applied.is_empty() {
        println!("database {} is up to date", url.redacted());
    } else {
        for name in &applied {
            println!("applied {name}");
        }
        println!(
            "database {} migrated ({} applied)",
            url.redacted(),
            applied.len()
        );
    }
    Ok(())
}

/// Applies pending migrations; returns the names applied.
pub fn apply(db: &Db) -> anyhow::Result<Vec<String>> {
    let mut conn = db.get()?;
    let applied = migrations::run_pending(&mut conn)?;
    for name in &applied {
        tracing::info!(migration = %name, "applied migration");
    }
    Ok(applied)
}
