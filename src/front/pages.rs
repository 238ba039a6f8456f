//! The server-rendered pages: sign-in, registration, sign-out, home, admin.

use std::collections::HashMap;

use actix_csrf::extractor::{CsrfCookie, CsrfToken};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use serde::Deserialize;
use tera::{Context, Tera};

use super::chat::ChatService;
use super::policy::Member;
use super::session::{authenticate, cleared_session_cookie, session_cookie};
use super::templates::render;
use crate::accounts::AccountError;
use crate::domain::services::AuthApi;
use crate::http::ApiError;
use crate::http::client_ip::client_ip;
use crate::storage::users;

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
    #[serde(default)]
    csrf_token: String,
}

/// A sign-in or registration form; a signed-in visitor goes home instead.
fn form_page(
    req: &HttpRequest,
    tera: &Tera,
    info: &PageInfo,
    csrf: &CsrfToken,
    template: &str,
) -> HttpResponse {
    if authenticate(req).is_ok() {
        return redirect("/home");
    }
    render(
        tera,
        HttpResponse::Ok(),
        template,
        &context(info, Some(csrf)),
    )
}

pub async fn login_page(
    req: HttpRequest,
    tera: web::Data<Tera>,
    info: web::Data<PageInfo>,
    csrf: CsrfToken,
) -> HttpResponse {
    form_page(&req, &tera, &info, &csrf, "login.html")
}

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
    match auth
        .login(&form.username, &form.password, client_ip(&req))
        .await
    {
        Ok(issued) => signed_in(&req, issued),
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
    match auth.login(&form.username, &form.password, ip).await {
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
) -> HttpResponse {
    if !csrf_ok(&cookie, &form.csrf_token) {
        return HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body(CSRF_MESSAGE);
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
