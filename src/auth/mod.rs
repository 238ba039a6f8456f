//! The `auth` role: the JSON API under `/auth/api` that registers users and issues tokens.
//! It alone holds the signing key.

mod in_process;
mod routes;

pub use in_process::DirectAuth;

use std::sync::Arc;

use actix_web::web;

use crate::accounts::Accounts;

/// Mounts `auth`'s routes.
pub fn configure(accounts: Arc<Accounts>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::from(accounts)).service(
            web::scope("/auth/api")
                .route("/register", web::post().to(routes::register))
                .route("/login", web::post().to(routes::login))
                .route("/token", web::post().to(routes::token))
                .route("/password", web::post().to(routes::change_password))
                .route("/password/check", web::post().to(routes::check_password))
                .route("/reset", web::post().to(routes::reset_password))
                .route("/jwks.json", web::get().to(routes::jwks)),
        );
    }
}
