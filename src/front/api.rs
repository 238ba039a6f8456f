//! The REST API under `/api` (JSON; `Authorization: Bearer <access token>` or the session
//! cookie).

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::session::CurrentUser;

/// `GET /api/me`: who the credentials belong to (an extension of the contract).
pub async fn me(user: CurrentUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({"id": user.id, "username": user.username}))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope("/api").route("/me", web::get().to(me)));
}
