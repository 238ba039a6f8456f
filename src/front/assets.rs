//! Static files (`/static/...`), compiled into the binary. nginx may serve the same files
//! from `static/` on disk; either way they are cached long, since page URLs carry a version.
//! The chat page's JavaScript is ES modules: `app.js` imports the others with its own
//! `?v=`, so every file the page loads is versioned (see `static/js/app.js`).

use actix_web::http::header;
use actix_web::{HttpResponse, web};

const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "css/app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/css/app.css"),
    ),
    (
        "js/account.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/js/account.js"),
    ),
    (
        "js/admin.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/js/admin.js"),
    ),
    (
        "js/api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/js/api.js"),
    ),
    (
        "js/app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/js/app.js"),
    ),
    (
        "js/backoff.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/js/backoff.js"),
    ),
    (
        "js/catch_up.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/js/catch_up.js"),
    ),
    (
        "js/chat_view.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/js/chat_view.js"),
    ),
    (
        "js/connection.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/js/connection.js"),
    ),
    (
        "js/outbox.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/js/outbox.js"),
    ),
    (
        "js/passwords.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/js/passwords.js"),
    ),
    (
        "js/room_log.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/js/room_log.js"),
    ),
    (
        "js/sessions.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/js/sessions.js"),
    ),
    (
        "js/two_factor.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/js/two_factor.js"),
    ),
    (
        "js/workspace.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/js/workspace.js"),
    ),
];

pub async fn serve(path: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(name, _, _)| *name == path.as_str()) {
        Some((_, content_type, body)) => HttpResponse::Ok()
            .content_type(*content_type)
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(*body),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("not found"),
    }
}

/// A short version of the assets, put in their URLs so a new release busts caches.
pub fn version() -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for (name, _, body) in ASSETS {
        hash.update(name.as_bytes());
        hash.update(body);
    }
    hash.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
