//! `chatapp admin set-password USERNAME` (the new password on standard input).

use super::{existing, password_from_stdin};
use crate::config::Settings;
use crate::storage::{Db, StorageError, audit, users, write_transaction};

pub fn run(db: &Db, settings: &Settings, username: &str) -> anyhow::Result<()> {
    let user = existing(db, username)?;
    let password = password_from_stdin()?;
    let hash = crate::passwords::hash(password.expose(), settings.auth.bcrypt_cost)?;
    let mut conn = db.get()?;
    write_transaction(&mut conn, |conn| {
        users::set_password_hash(conn, user.id, &hash)?;
        audit::record(conn, None, "set_password", &user.username, "")?;
        Ok::<_, StorageError>(())
    })?;
    println!("set the password of {}", user.username);
    Ok(())
}
