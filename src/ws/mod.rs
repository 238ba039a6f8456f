//! The `ws` role: the WebSocket endpoint under `/ws`. It has no database: it persists
//! through `front`.

use actix_web::web;

/// What `ws` needs to serve.
#[derive(Clone, Default)]
pub struct WsState {}

/// Mounts `ws`'s routes.
pub fn configure(state: WsState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(state));
    }
}
