//! Sessions kept on the server, and what needs the account's password again: a password
//! change, a reset through a one-use link, a check before the account is deactivated or
//! deleted. Each returns the sessions it ended, for `front` to close their sockets.

use std::net::IpAddr;

use super::AccountError;
use super::service::{Accounts, LoginAttempt};
use crate::domain::Password;
use crate::storage::{StorageError, now_utc, resets, sessions, users, write_transaction};
use crate::tokens::{TokenKind, opaque};

/// What is kept of a user agent.
const MAX_USER_AGENT_CHARS: usize = 200;

impl Accounts {
    /// Opens a session for a sign-in; returns its id.
    pub(super) async fn open_session(
        &self,
        user_id: i64,
        attempt: &LoginAttempt<'_>,
    ) -> Result<String, AccountError> {
        let sid = opaque::random_token(18)?;
        let user_agent: String = attempt
            .user_agent
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_USER_AGENT_CHARS)
            .collect();
        let client_addr = attempt.client.map(|ip| ip.to_string()).unwrap_or_default();
        let ttl = i64::try_from(self.lifetimes.session_secs).unwrap_or(i64::MAX / 2);
        let id = sid.clone();
        self.db
            .run(move |conn| {
                let now = now_utc();
                sessions::insert(
                    conn,
                    &sessions::NewSession {
                        id: &id,
                        user_id,
                        created_at: now,
                        last_seen_at: now,
                        expires_at: now + chrono::Duration::seconds(ttl),
                        user_agent: &user_agent,
                        client_addr: &client_addr,
                    },
                )
            })
            .await?;
        Ok(sid)
    }

    /// The active account behind `user_id`, whose session `sid` (when named) is open; notes
    /// the session's use.
    pub(super) async fn holder(
        &self,
        user_id: i64,
        sid: Option<String>,
    ) -> Result<users::User, AccountError> {
        self.db
            .run(move |conn| {
                let now = now_utc();
                let user = users::find_by_id(conn, user_id)?.filter(|u| u.active);
                let open = match &sid {
                    Some(sid) => sessions::is_open(conn, sid, user_id, now)?,
                    None => true,
                };
                if let (Some(_), true, Some(sid)) = (&user, open, &sid) {
                    sessions::touch(conn, sid, now)?;
                }
                Ok::<_, StorageError>(user.filter(|_| open))
            })
            .await?
            .ok_or(AccountError::InvalidSession)
    }

    /// The account and session behind a token the user holds (an access token, or the
    /// page's session token).
    async fn token_holder(
        &self,
        token: &str,
    ) -> Result<(users::User, Option<String>), AccountError> {
        let claims = self
            .verifier
            .verify(token, TokenKind::Access)
            .or_else(|_| self.verifier.verify(token, TokenKind::Session))
            .map_err(|_| AccountError::InvalidSession)?;
        let id = claims.user_id().map_err(|_| AccountError::InvalidSession)?;
        let user = self.holder(id, claims.sid.clone()).await?;
        Ok((user, claims.sid))
    }

    /// Checks the password of the token's holder, with the same limits as a sign-in.
    async fn confirm_password(
        &self,
        user: &users::User,
        password: &str,
    ) -> Result<(), AccountError> {
        self.limits.check_login(&user.username, None)?;
        let ok = self
            .hasher
            .verify(password.to_owned(), Some(user.password_hash.clone()))
            .await?;
        if ok {
            Ok(())
        } else {
            self.limits.failed(&user.username, None);
            Err(AccountError::WrongPassword)
        }
    }

    /// The holder's password, checked (before they deactivate or delete their account).
    /// Returns their id.
    pub async fn check_password(&self, token: &str, password: &str) -> Result<i64, AccountError> {
        let (user, _) = self.token_holder(token).await?;
        self.confirm_password(&user, password).await?;
        Ok(user.id)
    }

    /// Changes the holder's password and ends every other session of theirs; returns the
    /// ended sessions' ids.
    #[tracing::instrument(skip_all)]
    pub async fn change_password(
        &self,
        token: &str,
        current: &str,
        new: &str,
    ) -> Result<Vec<String>, AccountError> {
        let (user, sid) = self.token_holder(token).await?;
        let new = Password::parse(new)?;
        self.confirm_password(&user, current).await?;
        let hash = self.hasher.hash(new.expose().to_owned()).await?;
        let id = user.id;
        let ended = self
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    users::set_password_hash(conn, id, &hash)?;
                    sessions::end_all(conn, id, sid.as_deref(), now_utc())
                })
            })
            .await?;
        tracing::info!(user_id = id, ended = ended.len(), "password changed");
        Ok(ended)
    }

    /// Sets a new password through a one-use reset link and ends every session of the
    /// account; returns the ended sessions' ids. A used, expired or unknown link is
    /// `InvalidSession`; a refused password does not use the link up.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(
        &self,
        link_token: &str,
        new: &str,
        client: Option<IpAddr>,
    ) -> Result<Vec<String>, AccountError> {
        self.limits.check_address(client)?;
        let new = Password::parse(new)?;
        let digest = opaque::digest(link_token.trim());
        let hash = self.hasher.hash(new.expose().to_owned()).await?;
        let outcome = self
            .db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let now = now_utc();
                    let Some(id) = resets::redeem(conn, &digest, now)? else {
                        return Ok::<_, StorageError>(None);
                    };
                    users::set_password_hash(conn, id, &hash)?;
                    let ended = sessions::end_all(conn, id, None, now)?;
                    Ok(Some((id, ended)))
                })
            })
            .await?;
        let (id, ended) = outcome.ok_or(AccountError::InvalidSession)?;
        tracing::info!(user_id = id, ended = ended.len(), "password reset by link");
        Ok(ended)
    }
}
