use std::net::IpAddr;
use std::sync::Arc;

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::{Deserialize, Serialize};

use super::{AccountError, LoginLimits, PasswordHasher, totp};
use crate::domain::{Password, Registration, Role, Username, ValidationError};
use crate::storage::totp as storage_totp;
use crate::storage::{Db, StorageError, invites, now_utc, users, write_transaction};
use crate::tokens::{TokenKind, TokenSigner, TokenVerifier};

/// A new account, as `POST /auth/api/register` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    pub id: i64,
    pub username: String,
    /// `admin` for the first account ever, `member` after.
    #[serde(default = "member")]
    pub role: Role,
}

fn member() -> Role {
    Role::Member
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

/// A sign-in: who, with what, from where.
pub struct LoginAttempt<'a> {
    pub username: &'a str,
    pub password: &'a str,
    /// A TOTP code or a recovery code, for an account with two-factor sign-in.
    pub totp: Option<&'a str>,
    pub client: Option<IpAddr>,
    pub user_agent: &'a str,
    /// Also issue a session token (the web UI's sign-in form asks for one).
    pub with_session: bool,
}

/// Token lifetimes, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct TokenLifetimes {
    pub access_secs: u64,
    pub session_secs: u64,
}

pub struct Accounts {
    pub(super) db: Db,
    pub(super) hasher: PasswordHasher,
    signer: TokenSigner,
    pub(super) verifier: TokenVerifier,
    pub(super) limits: LoginLimits,
    pub(super) lifetimes: TokenLifetimes,
    registration: Registration,
}

impl Accounts {
    pub fn new(
        db: Db,
        hasher: PasswordHasher,
        signer: TokenSigner,
        verifier: TokenVerifier,
        limits: LoginLimits,
        lifetimes: TokenLifetimes,
        registration: Registration,
    ) -> Arc<Self> {
        Arc::new(Self {
            db,
            hasher,
            signer,
            verifier,
            limits,
            lifetimes,
            registration,
        })
    }

    pub fn verifier(&self) -> &TokenVerifier {
        &self.verifier
    }

    #[tracing::instrument(skip(self, password, email, invite), fields(username = %username))]
    pub async fn register(
        &self,
        username: &str,
        password: &str,
        email: Option<&str>,
        invite: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<Registered, AccountError> {
        self.limits.check_address(client)?;
        let username = Username::parse_new(username)?;
        let password = Password::parse(password)?;
        let email = email
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(parse_email)
            .transpose()?;
        // Who may register is settled before any password is hashed.
        let invite = invite
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        let needs_invite = self.admission(invite.clone()).await?;

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
        let (id, role) = self
            .db
            .run(move |conn| {
                Ok(write_transaction(conn, |conn| {
                    let now = now_utc();
                    let id = users::insert(
                        conn,
                        &users::NewUser {
                            username: &name,
                            email: email.as_deref(),
                            password_hash: &hash,
                            created_at: now,
                            updated_at: now,
                            role: Role::Member.as_str(),
                        },
                    )?;
                    // A one-person invite is used up by this account (or was, by another).
                    if needs_invite
                        && !invite
                            .as_deref()
                            .map(|code| invites::redeem(conn, code, id))
                            .transpose()?
                            .unwrap_or(false)
                    {
                        // Rolls the account back.
                        return Err(Refusal::InviteUsedUp);
                    }
                    let role = if users::promote_if_first(conn, id)? {
                        Role::Admin
                    } else {
                        Role::Member
                    };
                    Ok((id, role))
                }))
            })
            .await
            .map_err(taken_or)?
            .map_err(|e| match e {
                Refusal::Storage(e) => taken_or(e),
                Refusal::InviteUsedUp => AccountError::InviteRequired,
            })?;
        tracing::info!(user_id = id, role = role.as_str(), "registered a user");
        Ok(Registered {
            id,
            username: username.as_str().to_owned(),
            role,
        })
    }

    /// Whether a registration may go ahead under the workspace's mode, and whether it must
    /// use up its invite. The first account ever is always allowed (it is the admin's).
    async fn admission(&self, invite: Option<String>) -> Result<bool, AccountError> {
        let mode = self.registration;
        let (empty, valid) = self
            .db
            .run(move |conn| {
                let empty = users::count(conn)? == 0;
                let valid = match (&invite, mode) {
                    (Some(code), Registration::Invite) => invites::is_valid(conn, code)?,
                    _ => false,
                };
                Ok::<_, StorageError>((empty, valid))
            })
            .await?;
        match mode {
            _ if empty => Ok(false),
            Registration::Open => Ok(false),
            Registration::Closed => Err(AccountError::RegistrationClosed),
            Registration::Invite if valid => Ok(true),
            Registration::Invite => Err(AccountError::InviteRequired),
        }
    }

    #[tracing::instrument(skip_all, fields(username = %attempt.username))]
    pub async fn login(&self, attempt: &LoginAttempt<'_>) -> Result<Issued, AccountError> {
        let (username, client) = (attempt.username, attempt.client);
        self.limits.check_address(client)?;
        self.limits.check_login(username, client)?;
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
        if !self
            .hasher
            .verify(attempt.password.to_owned(), hash)
            .await?
        {
            tracing::info!("failed login");
            self.limits.failed(username, client);
            return Err(AccountError::InvalidCredentials);
        }
        let user = user.ok_or(AccountError::InvalidCredentials)?;
        if !user.active {
            // Told only to someone who knows the password.
            return Err(AccountError::Deactivated);
        }
        if user.totp_enabled {
            let Some(code) = attempt.totp.map(str::trim).filter(|c| !c.is_empty()) else {
                return Err(AccountError::TotpRequired);
            };
            if !self.second_factor(&user, code).await? {
                tracing::info!("failed second factor");
                self.limits.failed(username, client);
                return Err(AccountError::InvalidCredentials);
            }
        }
        self.limits.succeeded(username, client);
        let sid = self.open_session(user.id, attempt).await?;
        let mut issued = self.access(user.id, &user.username, &sid)?;
        if attempt.with_session {
            let session = self.signer.issue_in(
                TokenKind::Session,
                user.id,
                &user.username,
                Some(&sid),
                self.lifetimes.session_secs,
            )?;
            issued.session_token = Some(session);
            issued.session_expires_in = Some(self.lifetimes.session_secs);
        }
        Ok(issued)
    }

    /// A TOTP code (each accepted once) or one of the account's unused recovery codes.
    async fn second_factor(&self, user: &users::User, typed: &str) -> Result<bool, AccountError> {
        let id = user.id;
        if totp::looks_like_code(typed) {
            let Some(secret) = user.totp_secret.as_deref() else {
                return Ok(false);
            };
            let Some(step) = totp::matching_step(secret, typed, unix_now())? else {
                return Ok(false);
            };
            return Ok(self
                .db
                .run(move |conn| storage_totp::accept_step(conn, id, step))
                .await?);
        }
        let digest = totp::recovery_digest(typed);
        Ok(self
            .db
            .run(move |conn| storage_totp::use_recovery_code(conn, id, &digest, now_utc()))
            .await?)
    }

    /// A fresh access token for the holder of a valid session token whose session is open.
    pub async fn refresh(&self, session_token: &str) -> Result<Issued, AccountError> {
        let claims = self
            .verifier
            .verify(session_token, TokenKind::Session)
            .map_err(|_| AccountError::InvalidSession)?;
        let id = claims.user_id().map_err(|_| AccountError::InvalidSession)?;
        // Tokens from before sessions were kept on the server cannot be ended: not honoured.
        let sid = claims.sid.ok_or(AccountError::InvalidSession)?;
        let user = self.holder(id, Some(sid.clone())).await?;
        self.access(user.id, &user.username, &sid)
    }

    fn access(&self, user_id: i64, username: &str, sid: &str) -> Result<Issued, AccountError> {
        let token = self.signer.issue_in(
            TokenKind::Access,
            user_id,
            username,
            Some(sid),
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

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Why a registration's transaction was rolled back.
#[derive(Debug)]
enum Refusal {
    Storage(StorageError),
    /// A one-person invite that another registration used first.
    InviteUsedUp,
}

impl From<diesel::result::Error> for Refusal {
    fn from(e: diesel::result::Error) -> Self {
        Refusal::Storage(e.into())
    }
}

impl From<StorageError> for Refusal {
    fn from(e: StorageError) -> Self {
        Refusal::Storage(e)
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
