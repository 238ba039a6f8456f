//! `chatapp admin join-code [--rotate]`: prints the workspace join code (people register
//! at `/join/<code>`); `--rotate` replaces it first, and the old one stops working.

use crate::storage::{Db, StorageError, audit, invites, write_transaction};

pub fn run(db: &Db, rotate: bool) -> anyhow::Result<()> {
    let mut conn = db.get()?;
    let code = if rotate {
        write_transaction(&mut conn, |conn| {
            let code = invites::rotate_join_code(conn, None)?;
            audit::record(conn, None, "rotate_join_code", "workspace", "")?;
            Ok::<_, StorageError>(code)
        })?
    } else {
        invites::join_code(&mut conn)?
    };
    println!("{code}");
    Ok(())
}
