//! `chatapp admin set-role USERNAME ROLE`.

use super::existing;
use crate::domain::Role;
use crate::storage::{Db, StorageError, audit, users, write_transaction};

pub fn run(db: &Db, username: &str, role: &str) -> anyhow::Result<()> {
    let role = Role::parse(role)?;
    let user = existing(db, username)?;
    let mut conn = db.get()?;
    write_transaction(&mut conn, |conn| {
        users::set_role(conn, user.id, role)?;
        audit::record(conn, None, "set_role", &user.username, role.as_str())?;
        Ok::<_, StorageError>(())
    })?;
    println!("{} is now {}", user.username, role.as_str());
    Ok(())
}
