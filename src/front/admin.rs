//! What administrators do, under `/api/admin`: users and roles, deactivation, the join
//! code and one-person invites, archiving rooms, and the audit log of all of it. Every
//! handler takes [`Admin`], so no one else gets past the extractor.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::chat::ChatService;
use super::policy::Admin;
use crate::domain::services::Announcer;
use crate::domain::{Role, RoomName, Username, ValidationError};
use crate::http::ApiError;
use crate::storage::{
    StorageError, audit, invites, now_utc, resets, rooms, sessions, users, write_transaction,
};
use crate::tokens::opaque;

/// How long a password reset link stays good.
const RESET_LINK_MINUTES: i64 = 60;

/// How long a one-person invite stays good.
const INVITE_DAYS: i64 = 7;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/users", web::get().to(list_users))
        .route("/admin/users/{username}", web::post().to(update_user))
        .route(
            "/admin/users/{username}/reset_link",
            web::post().to(reset_link),
        )
        .route("/admin/join_code", web::get().to(join_code))
        .route("/admin/join_code", web::post().to(rotate_join_code))
        .route("/admin/invites", web::post().to(invite))
        .route("/admin/rooms/{room}", web::post().to(update_room))
        .route("/admin/audit", web::get().to(audit_log));
}

fn user_json(user: &users::User) -> serde_json::Value {
    json!({"id": user.id, "username": user.username, "display_name": user.display_name,
        "role": user.role, "active": user.active, "created_at": user.created_at.and_utc()})
}

async fn list_users(_: Admin, chat: web::Data<ChatService>) -> Result<HttpResponse, ApiError> {
    let all = chat.db().run(users::list).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(user_json).collect::<Vec<_>>()))
}

#[derive(Deserialize)]
struct UserChange {
    role: Option<String>,
    active: Option<bool>,
}

/// `POST /api/admin/users/{username}` with `{"role"}` and/or `{"active"}`. An admin cannot
/// demote or deactivate themselves (a workspace always keeps one administrator).
async fn update_user(
    Admin(admin): Admin,
    chat: web::Data<ChatService>,
    announcer: web::Data<dyn Announcer>,
    username: web::Path<String>,
    body: web::Json<UserChange>,
) -> Result<HttpResponse, ApiError> {
    let role = body.role.as_deref().map(Role::parse).transpose()?;
    let active = body.active;
    if role.is_none() && active.is_none() {
        return Err(ValidationError::new("role", "give a role or active").into());
    }
    let name = Username::parse(&username)?;
    let key = name.as_str().to_owned();
    let target = chat
        .db()
        .run(move |conn| users::find_by_username(conn, &key))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user named {:?}", username.as_str())))?;
    if target.id == admin.id && (role.is_some_and(|r| r != Role::Admin) || active == Some(false)) {
        return Err(ApiError::Conflict {
            code: "last_admin",
            message: "you cannot demote or deactivate yourself".into(),
        });
    }
    let (id, actor, target_name) = (target.id, admin.id, target.username.clone());
    let updated = chat
        .db()
        .run(move |conn| {
            write_transaction(conn, |conn| {
                if let Some(role) = role {
                    users::set_role(conn, id, role)?;
                    audit::record(conn, Some(actor), "set_role", &target_name, role.as_str())?;
                }
                if let Some(active) = active {
                    users::set_active(conn, id, active)?;
                    if !active {
                        sessions::end_all(conn, id, None, now_utc())?;
                    }
                    let action = if active { "reactivate" } else { "deactivate" };
                    audit::record(conn, Some(actor), action, &target_name, "")?;
                }
                users::find_by_id(conn, id)?
                    .ok_or_else(|| StorageError::Internal("the user vanished".into()))
            })
        })
        .await?;
    if !updated.active {
        chat.forget_sender(updated.id);
        // Their sockets close on every node; REST refuses their tokens already.
        if let Err(e) = announcer.close_account(&updated.username).await {
            tracing::warn!(error = %e, "a deactivated user's sockets could not be closed");
        }
    }
    Ok(HttpResponse::Ok().json(user_json(&updated)))
}

/// `POST /api/admin/users/{username}/reset_link`: a one-use link (valid an hour) with which
/// the user sets a new password → `{"url", "expires_at"}`. Only the token's digest is
/// kept, so the link is shown this once.
async fn reset_link(
    Admin(admin): Admin,
    chat: web::Data<ChatService>,
    username: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = Username::parse(&username)?;
    let token = opaque::random_token(32).map_err(|e| ApiError::Internal(e.to_string()))?;
    let digest = opaque::digest(&token);
    let key = name.as_str().to_owned();
    let expires_at = now_utc() + chrono::Duration::minutes(RESET_LINK_MINUTES);
    let made = chat
        .db()
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let Some(user) = users::find_by_username(conn, &key)? else {
                    return Ok::<_, StorageError>(false);
                };
                resets::insert(
                    conn,
                    &resets::NewReset {
                        token_hash: &digest,
                        user_id: user.id,
                        created_by: Some(admin.id),
                        created_at: now_utc(),
                        expires_at,
                    },
                )?;
                audit::record(conn, Some(admin.id), "reset_link", &user.username, "")?;
                Ok(true)
            })
        })
        .await?;
    if !made {
        return Err(ApiError::NotFound(format!(
            "no user named {:?}",
            name.as_str()
        )));
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({"url": format!("/auth/reset/{token}"), "expires_at": expires_at.and_utc()})))
}

fn code_json(code: &str) -> serde_json::Value {
    json!({"code": code, "url": format!("/join/{code}")})
}

/// `GET /api/admin/join_code`: the current workspace join code (made on first use).
async fn join_code(_: Admin, chat: web::Data<ChatService>) -> Result<HttpResponse, ApiError> {
    let code = chat.db().run(invites::join_code).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(code_json(&code)))
}

/// `POST /api/admin/join_code`: a new join code; the old one stops working at once.
async fn rotate_join_code(
    Admin(admin): Admin,
    chat: web::Data<ChatService>,
) -> Result<HttpResponse, ApiError> {
    let code = chat
        .db()
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let code = invites::rotate_join_code(conn, Some(admin.id))?;
                audit::record(conn, Some(admin.id), "rotate_join_code", "workspace", "")?;
                Ok::<_, StorageError>(code)
            })
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(code_json(&code)))
}

/// `POST /api/admin/invites`: a one-person invite, good once within 7 days.
async fn invite(
    Admin(admin): Admin,
    chat: web::Data<ChatService>,
) -> Result<HttpResponse, ApiError> {
    let expires = now_utc() + chrono::Duration::days(INVITE_DAYS);
    let code = chat
        .db()
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let code = invites::create_person(conn, Some(admin.id), expires)?;
                audit::record(conn, Some(admin.id), "invite", "person", "")?;
                Ok::<_, StorageError>(code)
            })
        })
        .await?;
    let mut body = code_json(&code);
    body["expires_at"] = json!(expires.and_utc());
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(body))
}

#[derive(Deserialize)]
struct RoomChange {
    archived: Option<bool>,
}

/// `POST /api/admin/rooms/{room} {"archived": true}`: an archived room is read only.
async fn update_room(
    Admin(admin): Admin,
    chat: web::Data<ChatService>,
    room: web::Path<String>,
    body: web::Json<RoomChange>,
) -> Result<HttpResponse, ApiError> {
    let archived = body
        .archived
        .ok_or_else(|| ValidationError::new("archived", "is required"))?;
    let name = RoomName::parse(&room)?;
    let meta = chat
        .room(name.as_str())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no room named {:?}", name.as_str())))?;
    let (id, target) = (meta.id, name.as_str().to_owned());
    let updated = chat
        .db()
        .run(move |conn| {
            write_transaction(conn, |conn| {
                rooms::set_archived(conn, id, archived)?;
                let action = if archived { "archive" } else { "unarchive" };
                audit::record(conn, Some(admin.id), action, &target, "")?;
                rooms::find_by_id(conn, id)?
                    .ok_or_else(|| StorageError::Internal("the room vanished".into()))
            })
        })
        .await?;
    chat.set_archived(name.as_str(), archived);
    Ok(HttpResponse::Ok().json(super::rooms::room_json(&updated, false)))
}

/// `GET /api/admin/audit`: the newest 200 admin actions, newest first.
async fn audit_log(_: Admin, chat: web::Data<ChatService>) -> Result<HttpResponse, ApiError> {
    let entries = chat.db().run(|conn| audit::newest(conn, 200)).await?;
    Ok(HttpResponse::Ok().json(json!({"entries": entries})))
}
