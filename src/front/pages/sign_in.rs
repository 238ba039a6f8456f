//! Signing in (with its two-factor step), registering, signing out, and where a session
//! the server no longer honours is sent.

use actix_csrf::extractor::{CsrfCookie, CsrfToken};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use tera::Tera;

use crate::accounts::{AccountError, LoginAttempt};
use crate::domain::services::{Announcer, AuthApi};
use crate::front::chat::ChatService;
use crate::front::session::{CurrentUser, authenticate, cleared_session_cookie};
use crate::front::templates::render;
use crate::http::client_ip::client_ip;
use crate::storage::{now_utc, sessions, users};

use super::{
    CSRF_MESSAGE, PageInfo, account_error, context, csrf_ok, form_error, redirect, signed_in,
    user_agent,
};

/// `GET /`: home when signed in; on a workspace without accounts, the form that creates
/// the administrator's; else the sign-in page.
pub async fn index(req: HttpRequest, chat: web::Data<ChatService>) -> HttpResponse {
    if authenticate(&req).is_ok() {
        return redirect("/home");
    }
    match first_run(&chat).await {
        Ok(true) => redirect("/auth/register"),
        _ => redirect("/auth/login"),
    }
}

/// Whether no account exists yet (the next one registered is the administrator's).
async fn first_run(chat: &ChatService) -> Result<bool, crate::storage::StorageError> {
    Ok(chat.db().run(users::count).await? == 0)
}

/// `GET /join/<code>`: the registration form with the invitation filled in.
pub async fn join(code: web::Path<String>) -> HttpResponse {
    let code: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(64)
        .collect();
    redirect(&format!("/auth/register?invite={code}"))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    /// The two-factor step: a code from the app, or a recovery code.
    #[serde(default)]
    totp: Option<String>,
    #[serde(default)]
    csrf_token: String,
}

/// `?reset=1`: the sign-in page after a password reset says so.
#[derive(Deserialize, Default)]
struct LoginQuery {
    #[serde(default)]
    reset: Option<String>,
}

pub async fn login_page(
    req: HttpRequest,
    tera: web::Data<Tera>,
    info: web::Data<PageInfo>,
    csrf: CsrfToken,
) -> HttpResponse {
    if authenticate(&req).is_ok() {
        return redirect("/home");
    }
    // A query that does not parse is no reason to refuse the form.
    let query = web::Query::<LoginQuery>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let mut ctx = context(&info, Some(&csrf));
    ctx.insert("reset", &(query.reset.as_deref() == Some("1")));
    render(&tera, HttpResponse::Ok(), "login.html", &ctx)
}

const TOTP_MESSAGE: &str = "Enter the code from your authenticator app (or a recovery code).";

pub async fn login_submit(
    req: HttpRequest,
    tera: web::Data<Tera>,
    info: web::Data<PageInfo>,
    auth: web::Data<dyn AuthApi>,
    cookie: Result<CsrfCookie, actix_csrf::CsrfError>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let mut ctx = context(&info, None);
    ctx.insert("username", &form.username);
    if !csrf_ok(&cookie, &form.csrf_token) {
        return form_error(
            &tera,
            StatusCode::FORBIDDEN,
            "login.html",
            ctx,
            None,
            CSRF_MESSAGE,
        );
    }
    // Checked: the same token serves the form again if it must be shown again.
    ctx.insert("csrf_token", &form.csrf_token);
    // The form of the two-factor step sends the field, filled or not: it stays on the page.
    let code = form.totp.as_deref().map(str::trim);
    ctx.insert("totp", &code.is_some());
    let attempt = LoginAttempt {
        username: &form.username,
        password: &form.password,
        totp: code.filter(|c| !c.is_empty()),
        client: client_ip(&req),
        user_agent: user_agent(&req),
        with_session: true,
    };
    match auth.login(&attempt).await {
        Ok(issued) => signed_in(&req, issued),
        // The password was right; the account also wants a code. The password is not put
        // back into the page: the next form asks for it with the code.
        Err(AccountError::TotpRequired) => {
            ctx.insert("totp", &true);
            form_error(
                &tera,
                StatusCode::UNAUTHORIZED,
                "login.html",
                ctx,
                None,
                TOTP_MESSAGE,
            )
        }
        Err(e) => account_error(&tera, "login.html", ctx, e),
    }
}

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    invite: Option<String>,
    #[serde(default)]
    csrf_token: String,
}

#[derive(Deserialize)]
pub struct InviteQuery {
    invite: Option<String>,
}

pub async fn register_page(
    req: HttpRequest,
    tera: web::Data<Tera>,
    info: web::Data<PageInfo>,
    csrf: CsrfToken,
    chat: web::Data<ChatService>,
    query: web::Query<InviteQuery>,
) -> HttpResponse {
    if authenticate(&req).is_ok() {
        return redirect("/home");
    }
    let mut ctx = context(&info, Some(&csrf));
    ctx.insert("invite", query.invite.as_deref().unwrap_or_default());
    ctx.insert("first_run", &first_run(&chat).await.unwrap_or(false));
    render(&tera, HttpResponse::Ok(), "register.html", &ctx)
}

pub async fn register_submit(
    req: HttpRequest,
    tera: web::Data<Tera>,
    info: web::Data<PageInfo>,
    auth: web::Data<dyn AuthApi>,
    cookie: Result<CsrfCookie, actix_csrf::CsrfError>,
    form: web::Form<RegisterForm>,
) -> HttpResponse {
    let mut ctx = context(&info, None);
    ctx.insert("username", &form.username);
    ctx.insert("email", form.email.as_deref().unwrap_or_default());
    ctx.insert("invite", form.invite.as_deref().unwrap_or_default());
    ctx.insert("first_run", &false);
    if !csrf_ok(&cookie, &form.csrf_token) {
        return form_error(
            &tera,
            StatusCode::FORBIDDEN,
            "register.html",
            ctx,
            None,
            CSRF_MESSAGE,
        );
    }
    ctx.insert("csrf_token", &form.csrf_token);
    if let Some(confirm) = &form.password_confirm
        && confirm != &form.password
    {
        return form_error(
            &tera,
            StatusCode::UNPROCESSABLE_ENTITY,
            "register.html",
            ctx,
            Some("password_confirm"),
            "the two passwords differ",
        );
    }
    let ip = client_ip(&req);
    let email = form.email.as_deref().filter(|e| !e.trim().is_empty());
    let invite = form.invite.as_deref().filter(|c| !c.trim().is_empty());
    if let Err(e) = auth
        .register(&form.username, &form.password, email, invite, ip)
        .await
    {
        return account_error(&tera, "register.html", ctx, e);
    }
    let attempt = LoginAttempt {
        username: &form.username,
        password: &form.password,
        totp: None,
        client: ip,
        user_agent: user_agent(&req),
        with_session: true,
    };
    match auth.login(&attempt).await {
        Ok(issued) => signed_in(&req, issued),
        Err(e) => account_error(&tera, "register.html", ctx, e),
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf_token: String,
}

pub async fn logout(
    req: HttpRequest,
    cookie: Result<CsrfCookie, actix_csrf::CsrfError>,
    form: web::Form<LogoutForm>,
    chat: web::Data<ChatService>,
    announcer: web::Data<dyn Announcer>,
) -> HttpResponse {
    if !csrf_ok(&cookie, &form.csrf_token) {
        return HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body(CSRF_MESSAGE);
    }
    // The session ends on the server (its token mints nothing more) and its sockets close.
    if let Ok(CurrentUser {
        id,
        session: Some(sid),
        ..
    }) = authenticate(&req)
    {
        let key = sid.clone();
        match chat
            .db()
            .run(move |conn| sessions::end(conn, id, &key, now_utc()))
            .await
        {
            Ok(_) => {
                if let Err(e) = announcer.close_sessions(&[sid]).await {
                    tracing::warn!(error = %e, "a signed-out session's sockets could not be closed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "a session could not be ended at sign-out"),
        }
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/auth/login"))
        .cookie(cleared_session_cookie(&req))
        .finish()
}

/// `GET /auth/expired`: clears the session cookie and goes on to the sign-in form, so that
/// a session the server no longer honours does not bounce between `/home` and `/auth/login`.
pub async fn expired(req: HttpRequest) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/auth/login"))
        .cookie(cleared_session_cookie(&req))
        .finish()
}
