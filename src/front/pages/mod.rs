//! The server-rendered pages: sign-in (with its two-factor step), registration, sign-out,
//! a password reset link, home, admin, the account page.
//!
//! `sign_in.rs`: sign-in, registration, sign-out; `reset.rs`: the reset link; `members.rs`:
//! chat, admin and account pages. Here: what they share (the template context, form errors).

mod members;
mod reset;
mod sign_in;

pub use members::{account, admin, home};
pub use reset::{reset_page, reset_submit};
pub use sign_in::{
    expired, index, join, login_page, login_submit, logout, register_page, register_submit,
};

use std::collections::HashMap;

use actix_csrf::extractor::{CsrfCookie, CsrfToken};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use tera::{Context, Tera};

use crate::accounts::AccountError;

use super::session::session_cookie;
use super::templates::render;

/// Shared by every page's template.
#[derive(Clone)]
pub struct PageInfo {
    pub asset_version: String,
    /// Where the chat page opens its WebSocket; empty: this host's `/ws/chat`.
    pub ws_url: String,
}

fn context(info: &PageInfo, csrf: Option<&CsrfToken>) -> Context {
    let mut ctx = Context::new();
    ctx.insert("v", &info.asset_version);
    ctx.insert("csrf_token", csrf.map(|t| t.get()).unwrap_or_default());
    ctx.insert("errors", &HashMap::<&str, String>::new());
    ctx.insert("username", "");
    ctx.insert("email", "");
    ctx
}

fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// Where a page sends a session whose account can no longer be used. The pages that render
/// forms cannot clear the cookie themselves: the CSRF middleware's Set-Cookie replaces theirs.
const EXPIRED: &str = "/auth/expired";

fn error_page(
    tera: &Tera,
    info: &PageInfo,
    status: StatusCode,
    title: &str,
    message: &str,
) -> HttpResponse {
    let mut ctx = context(info, None);
    ctx.insert("title", title);
    ctx.insert("message", message);
    render(tera, HttpResponseBuilder::new(status), "error.html", &ctx)
}

const CSRF_MESSAGE: &str = "This form has expired. Please reload the page and try again.";

/// The browser's `User-Agent`, kept with the session it opens (the account page lists them).
fn user_agent(req: &HttpRequest) -> &str {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The double-submit check: the form's token must equal the cookie's.
fn csrf_ok(cookie: &Result<CsrfCookie, actix_csrf::CsrfError>, submitted: &str) -> bool {
    matches!(cookie, Ok(c) if !submitted.is_empty() && c.validate(submitted))
}

fn signed_in(req: &HttpRequest, issued: crate::accounts::Issued) -> HttpResponse {
    let (Some(token), Some(max_age)) = (issued.session_token, issued.session_expires_in) else {
        tracing::error!("auth issued no session token for a sign-in form");
        return HttpResponse::ServiceUnavailable().finish();
    };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/home"))
        .cookie(session_cookie(req, token, max_age))
        .finish()
}

fn form_error(
    tera: &Tera,
    status: StatusCode,
    template: &str,
    mut ctx: Context,
    field: Option<&str>,
    message: &str,
) -> HttpResponse {
    match field {
        Some(field) => ctx.insert("errors", &HashMap::from([(field, message)])),
        None => ctx.insert("error", message),
    }
    render(tera, HttpResponseBuilder::new(status), template, &ctx)
}

fn account_error(tera: &Tera, template: &str, ctx: Context, e: AccountError) -> HttpResponse {
    let message = e.to_string();
    match e {
        AccountError::Invalid(v) => form_error(
            tera,
            StatusCode::UNPROCESSABLE_ENTITY,
            template,
            ctx,
            Some(v.field),
            &v.message,
        ),
        AccountError::UsernameTaken => form_error(
            tera,
            StatusCode::CONFLICT,
            template,
            ctx,
            Some("username"),
            &message,
        ),
        AccountError::EmailTaken => form_error(
            tera,
            StatusCode::CONFLICT,
            template,
            ctx,
            Some("email"),
            &message,
        ),
        AccountError::InvalidCredentials => form_error(
            tera,
            StatusCode::UNAUTHORIZED,
            template,
            ctx,
            None,
            &message,
        ),
        AccountError::InviteRequired => form_error(
            tera,
            StatusCode::FORBIDDEN,
            template,
            ctx,
            Some("invite"),
            &message,
        ),
        AccountError::RegistrationClosed | AccountError::Deactivated => {
            form_error(tera, StatusCode::FORBIDDEN, template, ctx, None, &message)
        }
        AccountError::RateLimited { retry_after_secs } => {
            let mut response = form_error(
                tera,
                StatusCode::TOO_MANY_REQUESTS,
                template,
                ctx,
                None,
                &message,
            );
            if let Ok(v) = header::HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
        }
        other => {
            tracing::error!(error = %other, "sign-in failed");
            form_error(
                tera,
                StatusCode::SERVICE_UNAVAILABLE,
                template,
                ctx,
                None,
                "Signing in is not possible right now. Please try again shortly.",
            )
        }
    }
}
