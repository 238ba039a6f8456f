use crate::domain::ValidationError;
use crate::storage::StorageError;
use crate::tokens::TokenError;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("that username is taken")]
    UsernameTaken,
    #[error("that email address is already registered")]
    EmailTaken,
    /// The same answer whether the user exists or not.
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("registration needs an invitation: ask an administrator for the join link")]
    InviteRequired,
    #[error("registration is closed: an administrator creates accounts")]
    RegistrationClosed,
    #[error("this account is deactivated")]
    Deactivated,
    #[error("the session has expired or is not valid; sign in again")]
    InvalidSession,
    /// The password was right; the account also wants a code from its authenticator app.
    #[error("enter the code from your authenticator app (or a recovery code)")]
    TotpRequired,
    /// The account's own password, asked again before a change, was wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("the authentication service is unavailable")]
    Unavailable(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("token: {0}")]
    Token(#[from] TokenError),
    #[error("internal: {0}")]
    Internal(String),
}
