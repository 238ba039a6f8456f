//! The handlers of `/auth/api`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use serde_json::json;

use crate::accounts::{Accounts, LoginAttempt};
use crate::domain::ValidationError;
use crate::http::ApiError;
use crate::http::client_ip::client_ip;

#[derive(Deserialize)]
pub struct RegisterBody {
    username: Option<String>,
    password: Option<String>,
    email: Option<String>,
    /// The workspace join code or a one-person invite (registration mode `invite`).
    invite: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginBody {
    username: Option<String>,
    password: Option<String>,
    /// Also issue a session token (the web UI's sign-in form asks for one).
    #[serde(default)]
    session: bool,
    /// A TOTP code or a recovery code, for an account with two-factor sign-in.
    totp: Option<String>,
    /// The browser's, when `front` signs someone in (else the request's `User-Agent`).
    user_agent: Option<String>,
}

#[derive(Deserialize)]
pub struct PasswordChangeBody {
    current: Option<String>,
    new: Option<String>,
}

#[derive(Deserialize)]
pub struct PasswordCheckBody {
    password: Option<String>,
}

#[derive(Deserialize)]
pub struct ResetBody {
    token: Option<String>,
    new: Option<String>,
}

fn required(field: &'static str, value: &Option<String>) -> Result<String, ApiError> {
    value
        .clone()
        .ok_or_else(|| ValidationError::new(field, "is required").into())
}

pub async fn register(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    body: web::Json<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let username = required("username", &body.username)?;
    let password = required("password", &body.password)?;
    let registered = accounts
        .register(
            &username,
            &password,
            body.email.as_deref(),
            body.invite.as_deref(),
            client_ip(&req),
        )
        .await?;
    Ok(HttpResponse::Created().json(registered))
}

pub async fn login(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let username = required("username", &body.username)?;
    let password = required("password", &body.password)?;
    let header_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let issued = accounts
        .login(&LoginAttempt {
            username: &username,
            password: &password,
            totp: body.totp.as_deref(),
            client: client_ip(&req),
            user_agent: body.user_agent.as_deref().unwrap_or(header_agent),
            with_session: body.session,
        })
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(issued))
}

/// The token after `Authorization: Bearer`.
fn bearer(req: &HttpRequest) -> Result<&str, ApiError> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| ApiError::Unauthorized("a token is required".into()))
}

/// `POST /auth/api/password {"current", "new"}` (Bearer: the user's access or session
/// token): changes the password, ends the other sessions → `{"ended": [ids]}`.
pub async fn change_password(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    body: web::Json<PasswordChangeBody>,
) -> Result<HttpResponse, ApiError> {
    let token = bearer(&req)?;
    let current = required("current", &body.current)?;
    let new = required("new", &body.new)?;
    let ended = accounts.change_password(token, &current, &new).await?;
    Ok(no_store(HttpResponse::Ok()).json(json!({ "ended": ended })))
}

/// `POST /auth/api/password/check {"password"}` (Bearer): 200 when it is the holder's.
pub async fn check_password(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    body: web::Json<PasswordCheckBody>,
) -> Result<HttpResponse, ApiError> {
    let token = bearer(&req)?;
    let password = required("password", &body.password)?;
    let id = accounts.check_password(token, &password).await?;
    Ok(no_store(HttpResponse::Ok()).json(json!({ "id": id })))
}

/// `POST /auth/api/reset {"token", "new"}`: a new password through a one-use reset link;
/// every session of the account ends → `{"ended": [ids]}`.
pub async fn reset_password(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
    body: web::Json<ResetBody>,
) -> Result<HttpResponse, ApiError> {
    let token = required("token", &body.token)?;
    let new = required("new", &body.new)?;
    let ended = accounts
        .reset_password(&token, &new, client_ip(&req))
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(json!({ "ended": ended })))
}

/// A fresh access token for `Authorization: Bearer <session token>`.
pub async fn token(
    req: HttpRequest,
    accounts: web::Data<Accounts>,
) -> Result<HttpResponse, ApiError> {
    let session = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::Unauthorized("a session token is required".into()))?;
    let issued = accounts.refresh(session.trim()).await?;
    Ok(no_store(HttpResponse::Ok()).json(issued))
}

pub async fn jwks(accounts: web::Data<Accounts>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(accounts.verifier().jwks())
}

fn no_store(mut builder: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    builder.insert_header((header::CACHE_CONTROL, "no-store"));
    builder
}
