//! The `auth` role: the JSON API under `/auth/api` that registers users and issues tokens.
//! It alone holds the signing key.

use std::sync::Arc;

use actix_web::web;

use crate::storage::Db;
use crate::tokens::KeyPair;

/// What `auth` needs to serve.
#[derive(Clone)]
pub struct AuthState {
    pub db: Db,
    pub keys: Arc<KeyPair>,
}

/// Mounts `auth`'s routes.
pub fn configure(state: AuthState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(state));
    }
}
