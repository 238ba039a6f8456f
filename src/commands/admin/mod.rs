//! `chatapp admin …`: what an operator without a browser does to the workspace, straight
//! on the database (the same rules as the API: usernames, passwords, roles), each step in
//! the audit log with no actor.

mod create_user;
mod deactivate;
mod join_code;
mod set_password;
mod set_role;

use std::io::Read;

use anyhow::Context;

use crate::cli::AdminCommand;
use crate::config::Settings;
use crate::domain::{Password, Username};
use crate::storage::{Db, users};

pub fn run(settings: &Settings, command: &AdminCommand) -> anyhow::Result<()> {
    let url = settings.database_url();
    let db = Db::connect(&url, 1, settings.database_timeout())
        .with_context(|| format!("cannot open the database {}", url.redacted()))?;
    super::migrate::apply(&db)?;
    match command {
        AdminCommand::CreateUser { username, role } => {
            create_user::run(&db, settings, username, role)
        }
        AdminCommand::SetPassword { username } => set_password::run(&db, settings, username),
        AdminCommand::SetRole { username, role } => set_role::run(&db, username, role),
        AdminCommand::Deactivate { username } => deactivate::run(&db, username),
        AdminCommand::JoinCode { rotate } => join_code::run(&db, *rotate),
    }
}

/// The password, read from standard input (one line; its line ending is not part of it).
fn password_from_stdin() -> anyhow::Result<Password> {
    let mut raw = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut raw)
        .context("reading the password from standard input")?;
    let line = raw.strip_suffix('\n').unwrap_or(&raw);
    let line = line.strip_suffix('\r').unwrap_or(line);
    Ok(Password::parse(line)?)
}

/// The account of this name, which must exist.
fn existing(db: &Db, raw: &str) -> anyhow::Result<users::User> {
    let name = Username::parse(raw)?;
    let mut conn = db.get()?;
    users::find_by_username(&mut conn, name.as_str())?
        .with_context(|| format!("there is no user named {raw:?}"))
}
