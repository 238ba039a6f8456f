//! The signed-in user: from `Authorization: Bearer <access token>` or from the HttpOnly
//! session cookie. Handlers take [`CurrentUser`] and never parse headers themselves.

use std::future::{Ready, ready};

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::http::ApiError;
use crate::tokens::{TokenKind, TokenVerifier};

pub const SESSION_COOKIE: &str = "chatapp_session";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    /// The server-side session the credential belongs to.
    pub session: Option<String>,
}

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

/// The user behind a request, or 401 in the contract's shape.
pub fn authenticate(req: &HttpRequest) -> Result<CurrentUser, ApiError> {
    let verifier = req
        .app_data::<web::Data<TokenVerifier>>()
        .ok_or_else(|| ApiError::Internal("no token verifier configured".into()))?;
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::Unauthorized("expected `Authorization: Bearer <token>`".into())
            })?;
        return user_from(verifier, token.trim(), TokenKind::Access);
    }
    if let Some(cookie) = req.cookie(SESSION_COOKIE) {
        // A cookie rides along on requests other sites trigger; for anything that changes
        // state, the request must come from our own pages.
        if !matches!(*req.method(), Method::GET | Method::HEAD) && !same_origin(req) {
            return Err(ApiError::Forbidden("cross-origin request refused".into()));
        }
        return user_from(verifier, cookie.value(), TokenKind::Session);
    }
    Err(ApiError::Unauthorized("sign in first".into()))
}

fn user_from(
    verifier: &TokenVerifier,
    token: &str,
    kind: TokenKind,
) -> Result<CurrentUser, ApiError> {
    let claims = verifier
        .verify(token, kind)
        .map_err(|e| ApiError::Unauthorized(format!("{e}; sign in again")))?;
    Ok(CurrentUser {
        id: claims
            .user_id()
            .map_err(|e| ApiError::Unauthorized(e.to_string()))?,
        username: claims.username,
        session: claims.sid,
    })
}

/// The credential the request came with (the access token, or the session cookie's
/// token), for `auth` to check who holds it.
pub fn credential(req: &HttpRequest) -> Option<String> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        return value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned());
    }
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned())
}

/// True when the request has no `Origin`, or one naming the host it was sent to.
pub fn same_origin(req: &HttpRequest) -> bool {
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        return true;
    };
    crate::http::origin::origin_is_host(origin, req.connection_info().host())
}

fn is_https(req: &HttpRequest) -> bool {
    req.connection_info().scheme() == "https"
}

/// The session cookie: HttpOnly, SameSite=Lax, Secure over HTTPS.
pub fn session_cookie(req: &HttpRequest, token: String, max_age_secs: u64) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(is_https(req))
        .max_age(CookieDuration::seconds(
            i64::try_from(max_age_secs).unwrap_or(i64::MAX),
        ))
        .finish()
}

pub fn cleared_session_cookie(req: &HttpRequest) -> Cookie<'static> {
    let mut cookie = session_cookie(req, String::new(), 0);
    cookie.make_removal();
    cookie
}
