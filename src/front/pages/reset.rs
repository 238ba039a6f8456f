//! The password reset link an administrator hands out: its form, and setting the password.

use actix_csrf::extractor::{CsrfCookie, CsrfToken};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use tera::{Context, Tera};

use crate::accounts::AccountError;
use crate::domain::services::{Announcer, AuthApi};
use crate::front::chat::ChatService;
use crate::front::session::cleared_session_cookie;
use crate::front::templates::render;
use crate::http::client_ip::client_ip;
use crate::storage::{now_utc, resets};
use crate::tokens::opaque;

use super::{CSRF_MESSAGE, PageInfo, account_error, context, csrf_ok, form_error};

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
    #[serde(default)]
    csrf_token: String,
}

const RESET_GONE: &str = "This link is no longer valid. Ask an administrator for a new one.";

/// `GET /auth/reset/<token>`: the form for a new password, or (410) that the link is used,
/// expired or unknown. The token stays in the address only (the form posts back to it): it
/// is never written into the page.
pub async fn reset_page(
    token: web::Path<String>,
    tera: web::Data<Tera>,
    info: web::Data<PageInfo>,
    csrf: CsrfToken,
    chat: web::Data<ChatService>,
) -> HttpResponse {
    let ctx = context(&info, Some(&csrf));
    let digest = opaque::digest(&token);
    match chat
        .db()
        .run(move |conn| resets::is_usable(conn, &digest, now_utc()))
        .await
    {
        Ok(false) => reset_gone(&tera, ctx),
        Ok(true) => render(&tera, HttpResponse::Ok(), "reset.html", &ctx),
        // The form is shown; posting it tells whether the link works.
        Err(e) => {
            tracing::warn!(error = %e, "could not check a password reset link");
            render(&tera, HttpResponse::Ok(), "reset.html", &ctx)
        }
    }
}

fn reset_gone(tera: &Tera, mut ctx: Context) -> HttpResponse {
    ctx.insert("invalid", &true);
    form_error(tera, StatusCode::GONE, "reset.html", ctx, None, RESET_GONE)
}

/// `POST /auth/reset/<token>`: sets the password, ends every session of the account (their
/// sockets close) and leads to the sign-in form, which says what happened. A used, expired
/// or unknown link: 410 with the form gone.
#[allow(clippy::too_many_arguments)]
pub async fn reset_submit(
    req: HttpRequest,
    token: web::Path<String>,
    tera: web::Data<Tera>,
    info: web::Data<PageInfo>,
    auth: web::Data<dyn AuthApi>,
    announcer: web::Data<dyn Announcer>,
    cookie: Result<CsrfCookie, actix_csrf::CsrfError>,
    form: web::Form<ResetForm>,
) -> HttpResponse {
    let mut ctx = context(&info, None);
    if !csrf_ok(&cookie, &form.csrf_token) {
        return form_error(
            &tera,
            StatusCode::FORBIDDEN,
            "reset.html",
            ctx,
            None,
            CSRF_MESSAGE,
        );
    }
    ctx.insert("csrf_token", &form.csrf_token);
    if form.password != form.password_confirm {
        return form_error(
            &tera,
            StatusCode::UNPROCESSABLE_ENTITY,
            "reset.html",
            ctx,
            Some("password_confirm"),
            "the two passwords differ",
        );
    }
    match auth
        .reset_password(&token, &form.password, client_ip(&req))
        .await
    {
        Ok(ended) => {
            if let Err(e) = announcer.close_sessions(&ended).await {
                // The sessions are ended: their sockets would close at the next token fetch.
                tracing::warn!(error = %e, sessions = ended.len(), "could not announce the sessions a password reset ended");
            }
            // Whoever was signed in in this browser is not any more: the sign-in form.
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/auth/login?reset=1"))
                .cookie(cleared_session_cookie(&req))
                .finish()
        }
        Err(AccountError::InvalidSession) => reset_gone(&tera, ctx),
        Err(e) => account_error(&tera, "reset.html", ctx, e),
    }
}
