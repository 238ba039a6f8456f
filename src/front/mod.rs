//! The `front` role: pages, static files, the REST API under `/api` and the internal API
//! `ws` persists through.

mod api;
mod assets;
pub mod auth_client;
pub mod chat;
mod pages;
pub mod presence;
pub mod session;
mod templates;

use std::sync::Arc;

use actix_csrf::CsrfMiddleware;
use actix_web::cookie::SameSite;
use actix_web::http::Method;
use actix_web::web;
use rand::rngs::StdRng;

use secrecy::SecretString;

use crate::accounts::Accounts;
use crate::tokens::TokenVerifier;
use auth_client::{AuthApi, DirectAuth, HttpAuth};
use chat::ChatService;
use presence::PresenceSource;

/// How `front` reaches `auth`.
#[derive(Clone)]
pub enum AuthBackend {
    /// Inside `all`: a direct call.
    Direct(Arc<Accounts>),
    /// Split: `auth`'s base URL.
    Http(String),
}

/// Where `GET /api/presence` asks who is online.
#[derive(Clone)]
pub enum PresenceBackend {
    /// Inside `all`: the local hub.
    Direct(Arc<presence::PresenceFn>),
    /// Split: a `ws` node's internal endpoint, with the service credential.
    Http {
        base: String,
        token: Option<SecretString>,
    },
    Unconfigured,
}

/// What `front` needs to serve.
#[derive(Clone)]
pub struct FrontState {
    pub chat: ChatService,
    pub verifier: TokenVerifier,
    pub auth: AuthBackend,
    pub presence: PresenceBackend,
    pub internal_token: Option<SecretString>,
    /// The WebSocket URL pages use (`front.public_ws_url`); unset: the page's own host.
    pub public_ws_url: Option<String>,
    pub tera: Arc<tera::Tera>,
}

impl FrontState {
    pub fn new(
        chat: ChatService,
        verifier: TokenVerifier,
        auth: AuthBackend,
        presence: PresenceBackend,
        internal_token: Option<SecretString>,
        public_ws_url: Option<String>,
    ) -> anyhow::Result<Self> {
        let tera = templates::load().map_err(|e| anyhow::anyhow!("templates: {e:?}"))?;
        Ok(Self {
            chat,
            verifier,
            auth,
            presence,
            internal_token,
            public_ws_url,
            tera: Arc::new(tera),
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
    for path in ["/auth/login", "/auth/register", "/home"] {
        csrf = csrf.set_cookie(Method::GET, path);
    }
    csrf
}

/// Mounts `front`'s routes.
pub fn configure(state: FrontState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        // Built in each worker: the HTTP client is per-thread (awc is not Send), so the
        // Arc never crosses threads.
        #[allow(clippy::arc_with_non_send_sync)]
        let auth: Arc<dyn AuthApi> = match &state.auth {
            AuthBackend::Direct(accounts) => Arc::new(DirectAuth(accounts.clone())),
            AuthBackend::Http(base) => Arc::new(HttpAuth::new(base)),
        };
        let presence = match &state.presence {
            PresenceBackend::Direct(lookup) => PresenceSource::Direct(lookup.clone()),
            PresenceBackend::Http { base, token } => PresenceSource::Http {
                base: base.trim_end_matches('/').to_owned(),
                token: token.clone(),
                client: awc::Client::default(),
            },
            PresenceBackend::Unconfigured => PresenceSource::Unconfigured,
        };
        let csrf = csrf();
        cfg.app_data(web::Data::from(auth))
            .app_data(web::Data::new(presence))
            .app_data(web::Data::new(api::InternalToken(
                state.internal_token.clone(),
            )))
            .app_data(web::Data::new(state.chat.clone()))
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
            .route("/auth/logout", web::post().to(pages::logout))
            .service(
                web::resource("/home")
                    .wrap(csrf)
                    .route(web::get().to(pages::home)),
            )
            .route("/static/{path:.*}", web::get().to(assets::serve))
            .configure(api::configure);
    }
}
