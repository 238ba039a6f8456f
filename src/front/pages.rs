//! The server-rendered pages: sign-in (with its two-factor step), registration, sign-out,
//! a password reset link, home, admin, the account page.

use std::collections::HashMap;

use actix_csrf::extractor::{CsrfCookie, CsrfToken};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use serde::Deserialize;
use tera::{Context, Tera};

use super::chat::ChatService;
use super::policy::Member;
use super::session::{CurrentUser, authenticate, cleared_session_cookie, session_cookie};
use super::templates::render;
use crate::accounts::{AccountError, LoginAttempt};
use crate::domain::services::{Announcer, AuthApi};
use crate::http::ApiError;
use crate::http::client_ip::client_ip;
use crate::storage::{now_utc, resets, sessions, users};
use crate::tokens::opaque;

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

/// `GET /home`: the chat page; signed-out visitors go to the sign-in page, and so does a
/// session whose account was deactivated or is gone (its cookie cleared, so that the
/// sign-in page does not send it back here).
pub async fn home(
    req: HttpRequest,
    tera: web::Data<Tera>,
    info: web::Data<PageInfo>,
    csrf: CsrfToken,
    member: Result<Member, ApiError>,
) -> HttpResponse {
    let Ok(user) = authenticate(&req) else {
        return redirect("/auth/login");
    };
    // The page itself needs no database: only an account known to be unusable is turned away.
    if let Err(ApiError::Unauthorized(_)) = member {
        return redirect(EXPIRED);
    }
    let mut ctx = context(&info, Some(&csrf));
    ctx.insert("username", &user.username);
    ctx.insert("ws_url", &info.ws_url);
    render(&tera, HttpResponse::Ok(), "home.html", &ctx)
}

/// `GET /admin`: the administration page (a shell its script fills from `/api/admin`).
/// Signed-out visitors go to the sign-in page; members who are not administrators get 403,
/// by the same look-up of the account's role as the admin API's.
pub async fn admin(
    req: HttpRequest,
    tera: web::Data<Tera>,
    info: web::Data<PageInfo>,
    csrf: CsrfToken,
    member: Result<Member, ApiError>,
) -> HttpResponse {
    if authenticate(&req).is_err() {
        return redirect("/auth/login");
    }
    let member = match member {
        Ok(member) => member,
        Err(ApiError::Unauthorized(_)) => return redirect(EXPIRED),
        Err(e) => {
            tracing::warn!(error = %e, "the admin page could not check the account");
            return error_page(
                &tera,
                &info,
                StatusCode::SERVICE_UNAVAILABLE,
                "Not available right now",
                "This page cannot be shown right now. Please try again shortly.",
            );
        }
    };
    if !member.is_admin() {
        return error_page(
            &tera,
            &info,
            StatusCode::FORBIDDEN,
            "Administrators only",
            "This page is for the workspace's administrators.",
        );
    }
    let mut ctx = context(&info, Some(&csrf));
    ctx.insert("username", &member.username);
    render(&tera, HttpResponse::Ok(), "admin.html", &ctx)
}

/// `GET /account`: the account page (a shell its script fills from `/api/sessions` and
/// `/api/me`): sessions, password, two-factor sign-in, closing the account. Signed-out
/// visitors go to the sign-in page; an account that can no longer be used, to
/// [`EXPIRED`].
pub async fn account(
    req: HttpRequest,
    tera: web::Data<Tera>,
    info: web::Data<PageInfo>,
    csrf: CsrfToken,
    member: Result<Member, ApiError>,
) -> HttpResponse {
    if authenticate(&req).is_err() {
        return redirect("/auth/login");
    }
    let member = match member {
        Ok(member) => member,
        Err(ApiError::Unauthorized(_)) => return redirect(EXPIRED),
        Err(e) => {
            tracing::warn!(error = %e, "the account page could not check the account");
            return error_page(
                &tera,
                &info,
                StatusCode::SERVICE_UNAVAILABLE,
                "Not available right now",
                "This page cannot be shown right now. Please try again shortly.",
            );
        }
    };
    let mut ctx = context(&info, Some(&csrf));
    ctx.insert("username", &member.username);
    render(&tera, HttpResponse::Ok(), "account.html", &ctx)
}

/// Where a page sends a session whose account can no longer be used. The pages that render
/// forms cannot clear the cookie themselves: the CSRF middleware's Set-Cookie replaces theirs.
const EXPIRED: &str = "/auth/expired";

/// `GET /auth/expired`: clears the session cookie and goes on to the sign-in form, so that
/// a session the server no longer honours does not bounce between `/home` and `/auth/login`.
pub async fn expired(req: HttpRequest) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/auth/login"))
        .cookie(cleared_session_cookie(&req))
        .finish()
}

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
