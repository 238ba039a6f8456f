//! `chatapp admin deactivate USERNAME`: no more sign-ins, and their sessions end.

use super::existing;
use crate::storage::{Db, StorageError, audit, users, write_transaction};

pub fn run(db: &Db, username: &str) -> anyhow::Result<()> {
    let user = existing(db, username)?;
    let mut conn = db.get()?;
    write_transaction(&mut conn, |conn| {
        users::set_active(conn, user.id, false)?;
        audit::record(conn, None, "deactivate", &user.username, "")?;
        Ok::<_, StorageError>(())
    })?;
    println!("deactivated {}", user.username);
    Ok(())
}
