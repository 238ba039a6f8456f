//! What a user does with their own account, under `/api`: their sessions, their password,
//! two-factor sign-in, deactivating or deleting the account. What needs the password goes
//! to `auth` ([`AuthApi`]); every ended session's sockets are closed through the
//! [`Announcer`].

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::chat::ChatService;
use super::policy::Member;
use super::session::credential;
use crate::accounts::totp;
use crate::domain::ValidationError;
use crate::domain::services::{Announcer, AuthApi};
use crate::http::ApiError;
use crate::storage::totp as storage_totp;
use crate::storage::{StorageError, audit, now_utc, sessions, users, write_transaction};

/// The issuer an authenticator app shows beside the account.
const TOTP_ISSUER: &str = "chatapp";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sessions", web::get().to(list_sessions))
        .route("/sessions", web::delete().to(end_other_sessions))
        .route("/sessions/{id}", web::delete().to(end_session))
        .route("/me", web::delete().to(delete_account))
        .route("/me/password", web::post().to(change_password))
        .route("/me/deactivate", web::post().to(deactivate))
        .route("/me/totp", web::post().to(totp_begin))
        .route("/me/totp", web::delete().to(totp_disable))
        .route("/me/totp/confirm", web::post().to(totp_confirm));
}

/// Closes the ended sessions' sockets on every node; the sessions are ended already, so a
/// failure here only leaves sockets open until their next token fetch fails.
async fn close(announcer: &dyn Announcer, ended: &[String]) {
    if ended.is_empty() {
        return;
    }
    if let Err(e) = announcer.close_sessions(ended).await {
        tracing::warn!(error = %e, "ended sessions' sockets could not be closed");
    }
}

fn required<'a>(field: &'static str, value: &'a Option<String>) -> Result<&'a str, ApiError> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ValidationError::new(field, "is required").into())
}

/// 200 with a JSON body no cache may keep (sessions, secrets, recovery codes).
fn private(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}

fn holder_token(req: &HttpRequest) -> Result<String, ApiError> {
    credential(req).ok_or_else(|| ApiError::Unauthorized("sign in first".into()))
}

/// `GET /api/sessions`: the caller's open sessions, the most recently seen first.
async fn list_sessions(
    user: Member,
    chat: web::Data<ChatService>,
) -> Result<HttpResponse, ApiError> {
    let id = user.id;
    let open = chat
        .db()
        .run(move |conn| sessions::list_open(conn, id, now_utc()))
        .await?;
    let list: Vec<_> = open
        .iter()
        .map(|s| {
            json!({"id": s.id, "created_at": s.created_at.and_utc(),
                "last_seen_at": s.last_seen_at.and_utc(), "user_agent": s.user_agent,
                "client_addr": s.client_addr, "current": user.session.as_deref() == Some(&s.id)})
        })
        .collect();
    Ok(private(json!({ "sessions": list })))
}

/// `DELETE /api/sessions/{id}`: ends one of the caller's sessions (the current one too).
async fn end_session(
    user: Member,
    chat: web::Data<ChatService>,
    announcer: web::Data<dyn Announcer>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sid = id.into_inner();
    let (user_id, key) = (user.id, sid.clone());
    let ended = chat
        .db()
        .run(move |conn| sessions::end(conn, user_id, &key, now_utc()))
        .await?;
    if !ended {
        return Err(ApiError::NotFound(
            "no open session of yours by that id".into(),
        ));
    }
    close(announcer.get_ref(), &[sid]).await;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/sessions`: ends every session of the caller's but the current one.
async fn end_other_sessions(
    user: Member,
    chat: web::Data<ChatService>,
    announcer: web::Data<dyn Announcer>,
) -> Result<HttpResponse, ApiError> {
    let (user_id, keep) = (user.id, user.session.clone());
    let ended = chat
        .db()
        .run(move |conn| sessions::end_all(conn, user_id, keep.as_deref(), now_utc()))
        .await?;
    close(announcer.get_ref(), &ended).await;
    Ok(HttpResponse::Ok().json(json!({ "ended": ended.len() })))
}

#[derive(Deserialize)]
struct PasswordChange {
    current: Option<String>,
    new: Option<String>,
}

/// `POST /api/me/password {"current", "new"}`: a new password; every other session ends.
async fn change_password(
    req: HttpRequest,
    _user: Member,
    auth: web::Data<dyn AuthApi>,
    announcer: web::Data<dyn Announcer>,
    body: web::Json<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    let current = required("current", &body.current)?;
    let new = required("new", &body.new)?;
    let token = holder_token(&req)?;
    let ended = auth.change_password(&token, current, new).await?;
    close(announcer.get_ref(), &ended).await;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct PasswordBody {
    password: Option<String>,
}

/// How a user closes their own account.
#[derive(Clone, Copy)]
enum Closing {
    /// Deactivated: an administrator can bring it back.
    Deactivate,
    /// Deleted: its messages stay under `deleted-<id>`.
    Delete,
}

/// `POST /api/me/deactivate {"password"}`: the user deactivates their own account; its
/// sessions end and its sockets close. An administrator can reactivate it.
async fn deactivate(
    req: HttpRequest,
    user: Member,
    auth: web::Data<dyn AuthApi>,
    chat: web::Data<ChatService>,
    announcer: web::Data<dyn Announcer>,
    body: web::Json<PasswordBody>,
) -> Result<HttpResponse, ApiError> {
    close_account(
        &req,
        user,
        &auth,
        &chat,
        &announcer,
        &body,
        Closing::Deactivate,
    )
    .await
}

/// `DELETE /api/me {"password"}`: deletes the account. Its messages stay, under the name
/// `deleted-<id>` ("Deleted user"): removing them would punch holes in conversations other
/// people took part in. Email, password, second factor and sessions go; the name is free.
async fn delete_account(
    req: HttpRequest,
    user: Member,
    auth: web::Data<dyn AuthApi>,
    chat: web::Data<ChatService>,
    announcer: web::Data<dyn Announcer>,
    body: web::Json<PasswordBody>,
) -> Result<HttpResponse, ApiError> {
    close_account(&req, user, &auth, &chat, &announcer, &body, Closing::Delete).await
}

/// The password asked again, then in one transaction: every session ended, the account
/// deactivated or deleted, the audit entry; then the sockets closed on every node.
async fn close_account(
    req: &HttpRequest,
    user: Member,
    auth: &web::Data<dyn AuthApi>,
    chat: &ChatService,
    announcer: &web::Data<dyn Announcer>,
    body: &PasswordBody,
    how: Closing,
) -> Result<HttpResponse, ApiError> {
    let password = required("password", &body.password)?;
    auth.check_password(&holder_token(req)?, password).await?;
    let (id, name) = (user.id, user.username.clone());
    chat.db()
        .run(move |conn| {
            write_transaction(conn, |conn| {
                sessions::end_all(conn, id, None, now_utc())?;
                let action = match how {
                    Closing::Deactivate => {
                        users::set_active(conn, id, false)?;
                        "deactivate_self"
                    }
                    Closing::Delete => {
                        storage_totp::disable(conn, id)?;
                        users::anonymize(conn, id)?;
                        "delete_self"
                    }
                };
                audit::record(conn, Some(id), action, &name, "")?;
                Ok::<_, StorageError>(())
            })
        })
        .await?;
    chat.forget_sender(user.id);
    if let Err(e) = announcer.close_account(&user.username).await {
        tracing::warn!(error = %e, "a closed account's sockets could not be closed");
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/me/totp`: starts enrolment (or starts it over) → the secret, its
/// `otpauth://` URL and a QR code of it. Not required at sign-in until confirmed.
async fn totp_begin(user: Member, chat: web::Data<ChatService>) -> Result<HttpResponse, ApiError> {
    if user.totp {
        return Err(ApiError::Conflict {
            code: "totp_enabled",
            message: "two-factor sign-in is on already; turn it off first".into(),
        });
    }
    let secret = totp::new_secret()?;
    let shown = totp::provisioning(&secret, TOTP_ISSUER, &user.username)?;
    let (id, kept) = (user.id, secret.clone());
    chat.db()
        .run(move |conn| storage_totp::set_pending_secret(conn, id, &kept))
        .await?;
    Ok(private(
        json!({"secret": secret, "otpauth_url": shown.url, "qr_svg": shown.qr_svg}),
    ))
}

#[derive(Deserialize)]
struct CodeBody {
    code: Option<String>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether `code` is a current TOTP code of the user's secret, not used before.
async fn code_accepted(
    chat: &ChatService,
    user_id: i64,
    secret: &str,
    code: &str,
) -> Result<bool, ApiError> {
    let Some(step) = totp::matching_step(secret, code, unix_now())? else {
        return Ok(false);
    };
    Ok(chat
        .db()
        .run(move |conn| storage_totp::accept_step(conn, user_id, step))
        .await?)
}

async fn account(chat: &ChatService, id: i64) -> Result<users::User, ApiError> {
    chat.db()
        .run(move |conn| users::find_by_id(conn, id))
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the account is gone; sign in again".into()))
}

fn wrong_code() -> ApiError {
    ApiError::Denied {
        code: "wrong_code",
        message: "that code is not right; use the current one from your app".into(),
    }
}

/// `POST /api/me/totp/confirm {"code"}`: a current code turns two-factor on → ten
/// recovery codes, shown this once.
async fn totp_confirm(
    user: Member,
    chat: web::Data<ChatService>,
    body: web::Json<CodeBody>,
) -> Result<HttpResponse, ApiError> {
    let code = required("code", &body.code)?;
    let found = account(&chat, user.id).await?;
    if found.totp_enabled {
        return Err(ApiError::Conflict {
            code: "totp_enabled",
            message: "two-factor sign-in is on already".into(),
        });
    }
    let Some(secret) = found.totp_secret else {
        return Err(ApiError::Conflict {
            code: "totp_not_started",
            message: "start the set-up first (POST /api/me/totp)".into(),
        });
    };
    if !code_accepted(&chat, user.id, &secret, code).await? {
        return Err(wrong_code());
    }
    let codes = totp::new_recovery_codes()?;
    let digests: Vec<String> = codes.iter().map(|c| totp::recovery_digest(c)).collect();
    let (id, name) = (user.id, user.username.clone());
    chat.db()
        .run(move |conn| {
            storage_totp::enable(conn, id, &digests)?;
            audit::record(conn, Some(id), "totp_enable", &name, "")
        })
        .await?;
    Ok(private(json!({ "recovery_codes": codes })))
}

/// `DELETE /api/me/totp {"code"}`: a current code or a recovery code turns it off.
async fn totp_disable(
    user: Member,
    chat: web::Data<ChatService>,
    body: web::Json<CodeBody>,
) -> Result<HttpResponse, ApiError> {
    let code = required("code", &body.code)?;
    let found = account(&chat, user.id).await?;
    let secret = match (found.totp_enabled, found.totp_secret) {
        (true, Some(secret)) => secret,
        _ => {
            return Err(ApiError::Conflict {
                code: "totp_not_enabled",
                message: "two-factor sign-in is not on".into(),
            });
        }
    };
    let accepted = if totp::looks_like_code(code) {
        code_accepted(&chat, user.id, &secret, code).await?
    } else {
        let (id, digest) = (user.id, totp::recovery_digest(code));
        chat.db()
            .run(move |conn| storage_totp::use_recovery_code(conn, id, &digest, now_utc()))
            .await?
    };
    if !accepted {
        return Err(wrong_code());
    }
    let (id, name) = (user.id, user.username.clone());
    chat.db()
        .run(move |conn| {
            write_transaction(conn, |conn| {
                storage_totp::disable(conn, id)?;
                audit::record(conn, Some(id), "totp_disable", &name, "")
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
