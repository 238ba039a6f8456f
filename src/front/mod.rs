//! The `front` role: pages, static files, the REST API under `/api` and the internal API
//! `ws` persists through.

mod account;
mod admin;
mod api;
mod assets;
pub mod chat;
pub mod feed_query;
mod pages;
pub mod policy;
mod push;
mod room_limits;
mod rooms;
pub mod session;
mod templates;

use std::sync::Arc;

use actix_csrf::CsrfMiddleware;
use actix_web::cookie::SameSite;
use actix_web::dev::Service;
use actix_web::http::{Method, header};
use actix_web::web;
use rand::rngs::StdRng;

use secrecy::SecretString;

use crate::domain::services::{Announcer, AuthApi, Connector, PresenceApi};
use crate::push::PushService;
use crate::tokens::TokenVerifier;
use chat::ChatService;

/// What `front` needs to serve.
#[derive(Clone)]
pub struct FrontState {
    pub chat: ChatService,
    pub verifier: TokenVerifier,
    /// How `front` reaches `auth` (a direct call inside `all`).
    pub auth: Arc<dyn Connector<dyn AuthApi>>,
    /// Where `GET /api/presence` asks who is online (the hub inside `all`).
    pub presence: Arc<dyn Connector<dyn PresenceApi>>,
    /// How what `front` changes itself reaches the `ws` nodes (the bus inside `all`).
    pub announcer: Arc<dyn Connector<dyn Announcer>>,
    pub internal_token: Option<SecretString>,
    /// The WebSocket URL pages use (`front.public_ws_url`); unset: the page's own host.
    pub public_ws_url: Option<String>,
    pub tera: Arc<tera::Tera>,
    /// Web Push: the VAPID key, subscriptions, the queue `notify` feeds.
    pub push: PushService,
    /// Rooms made per user: one limiter for every worker.
    room_creation: web::Data<room_limits::RoomCreation>,
}

impl FrontState {
    // One argument per dependency of the role, each named at the one call (server).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        chat: ChatService,
        verifier: TokenVerifier,
        auth: Arc<dyn Connector<dyn AuthApi>>,
        presence: Arc<dyn Connector<dyn PresenceApi>>,
        announcer: Arc<dyn Connector<dyn Announcer>>,
        internal_token: Option<SecretString>,
        public_ws_url: Option<String>,
        push: PushService,
    ) -> anyhow::Result<Self> {
        let tera = templates::load().map_err(|e| anyhow::anyhow!("templates: {e:?}"))?;
        Ok(Self {
            chat,
            verifier,
            auth,
            presence,
            announcer,
            internal_token,
            public_ws_url,
            tera: Arc::new(tera),
            push,
            room_creation: web::Data::new(room_limits::RoomCreation::default()),
        })
    }
}

const CSRF_COOKIE: &str = "chatapp_csrf";

/// The CSRF middleware (double-submit cookie): pages that show a form set a fresh token.
fn csrf() -> CsrfMiddleware<StdRng> {
    let mut csrf = CsrfMiddleware::<StdRng>::new()
        .cookie_name(CSRF_COOKIE)
        .http_only(true)
        .same_site(Some(SameSite::Strict))
        // Not a credential: readable over plain HTTP too, so `all` works on localhost.
        .secure(false);
    // Only pages that render a form get a fresh token: actix-csrf's Set-Cookie would
    // replace the session cookie a successful POST sets.
    for path in [
        "/auth/login",
        "/auth/register",
        "/auth/reset/{token}",
        "/home",
        "/admin",
        "/account",
    ] {
        csrf = csrf.set_cookie(Method::GET, path);
    }
    csrf
}

/// Mounts `front`'s routes.
pub fn configure(state: FrontState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        // Built in each worker: an HTTP client is per thread.
        let csrf = csrf();
        cfg.app_data(web::Data::from(state.auth.connect()))
            .app_data(web::Data::from(state.presence.connect()))
            .app_data(web::Data::from(state.announcer.connect()))
            .app_data(web::Data::new(api::InternalToken(
                state.internal_token.clone(),
            )))
            .app_data(web::Data::new(state.chat.clone()))
            .app_data(web::Data::new(state.push.clone()))
            .app_data(state.room_creation.clone())
            .app_data(web::Data::new(state.verifier.clone()))
            .app_data(web::Data::from(state.tera.clone()))
            .app_data(web::Data::new(pages::PageInfo {
                asset_version: assets::version(),
                ws_url: state.public_ws_url.clone().unwrap_or_default(),
            }))
            .app_data(csrf.cookie_config())
            .app_data(web::FormConfig::default().limit(16 * 1024))
            .route("/", web::get().to(pages::index))
            .service(
                web::resource("/auth/login")
                    .wrap(csrf.clone())
                    .route(web::get().to(pages::login_page))
                    .route(web::post().to(pages::login_submit)),
            )
            .service(
                web::resource("/auth/register")
                    .wrap(csrf.clone())
                    .route(web::get().to(pages::register_page))
                    .route(web::post().to(pages::register_submit)),
            )
            .service(
                web::resource("/auth/reset/{token}")
                    .wrap(csrf.clone())
                    // No `Referer` at all from these pages, not even to this origin: the
                    // link's token is in their address, and a request log that keeps
                    // referrers would keep it.
                    .wrap_fn(|req, srv| {
                        let response = srv.call(req);
                        async move {
                            let mut response = response.await?;
                            response.headers_mut().insert(
                                header::REFERRER_POLICY,
                                header::HeaderValue::from_static("no-referrer"),
                            );
                            Ok(response)
                        }
                    })
                    .route(web::get().to(pages::reset_page))
                    .route(web::post().to(pages::reset_submit)),
            )
            .route("/auth/logout", web::post().to(pages::logout))
            .route("/auth/expired", web::get().to(pages::expired))
            .route("/join/{code}", web::get().to(pages::join))
            .service(
                web::resource("/home")
                    .wrap(csrf.clone())
                    .route(web::get().to(pages::home)),
            )
            .service(
                web::resource("/admin")
                    .wrap(csrf.clone())
                    .route(web::get().to(pages::admin)),
            )
            .service(
                web::resource("/account")
                    .wrap(csrf)
                    .route(web::get().to(pages::account)),
            )
            .route("/static/{path:.*}", web::get().to(assets::serve))
            .configure(api::configure);
    }
}
