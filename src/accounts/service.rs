use std::net::IpAddr;
use std::sync::Arc;

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::{Deserialize, Serialize};

use super::{AccountError, LoginLimits, PasswordHasher};
use crate::domain::{Password, Username, ValidationError};
use crate::storage::{Db, StorageError, now_utc, users};
use crate::tokens::{TokenKind, TokenSigner, TokenVerifier};

/// A new account, as `POST /auth/api/register` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    pub id: i64,
    pub username: String,
}

/// Tokens issued at login or refresh, as `POST /auth/api/login` answers them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issued {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    /// Only when a session was asked for (the web UI's sign-in form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_expires_in: Option<u64>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Token lifetimes, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct TokenLifetimes {
    pub access_secs: u64,
    pub session_secs: u64,
}

pub struct Accounts {
    db: Db,
    hasher: PasswordHasher,
    signer: TokenSigner,
    verifier: TokenVerifier,
    limits: LoginLimits,
    lifetimes: TokenLifetimes,
}

impl Accounts {
    pub fn new(
        db: Db,
        hasher: PasswordHasher,
        signer: TokenSigner,
        verifier: TokenVerifier,
        limits: LoginLimits,
        lifetimes: TokenLifetimes,
    ) -> Arc<Self> {
        Arc::new(Self {
            db,
            hasher,
            signer,
            verifier,
            limits,
            lifetimes,
        })
    }

    pub fn verifier(&self) -> &TokenVerifier {
        &self.verifier
    }

    #[tracing::instrument(skip(self, password, email), fields(username = %username))]
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        email: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<Registered, AccountError> {
        self.limits.check_address(client)?;
        let username = Username::parse(username)?;
        let password = Password::parse(password)?;
        let email = email
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(parse_email)
            .transpose()?;

        let name = username.as_str().to_owned();
        let taken = self
            .db
            .run(move |conn| users::find_by_username(conn, &name))
            .await?;
        if taken.is_some() {
            return Err(AccountError::UsernameTaken);
        }

        let hash = self.hasher.hash(password.expose().to_owned()).await?;
        let name = username.as_str().to_owned();
        let id = self
            .db
            .run(move |conn| {
                let now = now_utc();
                users::insert(
                    conn,
                    &users::NewUser {
                        username: &name,
                        email: email.as_deref(),
                        password_hash: &hash,
                        created_at: now,
                        updated_at: now,
                    },
                )
            })
            .await
            .map_err(taken_or)?;
        tracing::info!(user_id = id, "registered a user");
        Ok(Registered {
            id,
            username: username.as_str().to_owned(),
        })
    }

    #[tracing::instrument(skip(self, password), fields(username = %username))]
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: Option<IpAddr>,
        with_session: bool,
    ) -> Result<Issued, AccountError> {
        self.limits.check_address(client)?;
        self.limits.check_username(username)?;
        // A name that cannot exist gets the same answer, after the same work, as a wrong one.
        let user = match Username::parse(username) {
            Ok(name) => {
                let name = name.as_str().to_owned();
                self.db
                    .run(move |conn| users::find_by_username(conn, &name))
                    .await?
            }
            Err(_) => None,
        };
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        if !self.hasher.verify(password.to_owned(), hash).await? {
            tracing::info!("failed login");
            return Err(AccountError::InvalidCredentials);
        }
        let user = user.ok_or(AccountError::InvalidCredentials)?;
        let mut issued = self.access(user.id, &user.username)?;
        if with_session {
            let session = self.signer.issue(
                TokenKind::Session,
                user.id,
                &user.username,
                self.lifetimes.session_secs,
            )?;
            issued.session_token = Some(session);
            issued.session_expires_in = Some(self.lifetimes.session_secs);
        }
        Ok(issued)
    }

    /// A fresh access token for the holder of a valid session token.
    pub async fn refresh(&self, session_token: &str) -> Result<Issued, AccountError> {
        let claims = self
            .verifier
            .verify(session_token, TokenKind::Session)
            .map_err(|_| AccountError::InvalidSession)?;
        let id = claims.user_id().map_err(|_| AccountError::InvalidSession)?;
        // The account must still exist.
        let user = self
            .db
            .run(move |conn| users::find_by_id(conn, id))
            .await?
            .ok_or(AccountError::InvalidSession)?;
        self.access(user.id, &user.username)
    }

    fn access(&self, user_id: i64, username: &str) -> Result<Issued, AccountError> {
        let token = self.signer.issue(
            TokenKind::Access,
            user_id,
            username,
            self.lifetimes.access_secs,
        )?;
        Ok(Issued {
            access_token: token,
            token_type: "Bearer".into(),
            expires_in: self.lifetimes.access_secs,
            session_token: None,
            session_expires_in: None,
        })
    }
}

fn parse_email(raw: &str) -> Result<String, ValidationError> {
    let ok = raw.len() <= 254
        && raw.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !raw.chars().any(char::is_whitespace);
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(ValidationError::new("email", "is not an email address"))
    }
}

/// A unique violation on insert means a concurrent registration took the name or email.
fn taken_or(e: StorageError) -> AccountError {
    match &e {
        StorageError::Query(DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            info,
        )) => {
            let what = format!(
                "{} {}",
                info.message(),
                info.constraint_name().unwrap_or("")
            );
            if what.contains("email") {
                AccountError::EmailTaken
            } else {
                AccountError::UsernameTaken
            }
        }
        _ => AccountError::Storage(e),
    }
}
