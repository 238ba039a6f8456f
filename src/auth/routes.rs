//! The handlers of `/auth/api`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::accounts::Accounts;
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
    let issued = accounts
        .login(&username, &password, client_ip(&req), body.session)
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(issued))
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
