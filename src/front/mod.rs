//! The `front` role: pages, static files, the REST API under `/api` and the internal API
//! `ws` persists through.

use actix_web::web;

use crate::storage::Db;

/// What `front` needs to serve.
#[derive(Clone)]
pub struct FrontState {
    pub db: Db,
}

/// Mounts `front`'s routes.
pub fn configure(state: FrontState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(state));
    }
}
