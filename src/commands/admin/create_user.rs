//! `chatapp admin create-user USERNAME [--role ROLE]` (password on standard input).

use anyhow::bail;

use super::password_from_stdin;
use crate::config::Settings;
use crate::domain::{Role, Username};
use crate::storage::{Db, StorageError, audit, now_utc, users, write_transaction};

pub fn run(db: &Db, settings: &Settings, username: &str, role: &str) -> anyhow::Result<()> {
    let name = Username::parse_new(username)?;
    let role = Role::parse(role)?;
    let password = password_from_stdin()?;
    let hash = crate::passwords::hash(password.expose(), settings.auth.bcrypt_cost)?;
    let mut conn = db.get()?;
    let created = write_transaction(&mut conn, |conn| {
        let now = now_utc();
        let id = users::insert(
            conn,
            &users::NewUser {
                username: name.as_str(),
                email: None,
                password_hash: &hash,
                created_at: now,
                updated_at: now,
                role: role.as_str(),
            },
        )?;
        // The first account ever is the administrator's, however it was made.
        let role = if users::promote_if_first(conn, id)? {
            Role::Admin
        } else {
            role
        };
        audit::record(conn, None, "create_user", name.as_str(), role.as_str())?;
        Ok::<_, StorageError>((id, role))
    });
    match created {
        Ok((id, role)) => {
            println!("created {} (id {id}, {})", name.as_str(), role.as_str());
            Ok(())
        }
        Err(e) if e.is_unique_violation() => bail!("the username {:?} is taken", name.as_str()),
        Err(e) => Err(e.into()),
    }
}
