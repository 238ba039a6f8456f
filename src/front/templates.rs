//! The tera templates, compiled into the binary so it deploys alone. Autoescaping is on
//! for every template: user text is never markup.

use actix_web::http::header;
use actix_web::{HttpResponse, HttpResponseBuilder};
use tera::{Context, Tera};

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../templates/layout.html")),
    ("login.html", include_str!("../../templates/login.html")),
    (
        "register.html",
        include_str!("../../templates/register.html"),
    ),
    ("home.html", include_str!("../../templates/home.html")),
    ("admin.html", include_str!("../../templates/admin.html")),
    ("account.html", include_str!("../../templates/account.html")),
    ("reset.html", include_str!("../../templates/reset.html")),
    ("error.html", include_str!("../../templates/error.html")),
];

pub fn load() -> Result<Tera, tera::Error> {
    let mut tera = Tera::default();
    tera.autoescape_on(vec![".html"]);
    tera.add_raw_templates(TEMPLATES.iter().copied())?;
    Ok(tera)
}

/// The Content-Security-Policy of every page: no inline script or style, nothing from
/// other origins, WebSockets to this host only.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Renders `name` into a response with the page security headers.
pub fn render(
    tera: &Tera,
    mut builder: HttpResponseBuilder,
    name: &str,
    ctx: &Context,
) -> HttpResponse {
    match tera.render(name, ctx) {
        Ok(html) => builder
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::REFERRER_POLICY, "same-origin"))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(html),
        Err(e) => {
            tracing::error!(template = name, error = ?e, "template failed to render");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("internal error")
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn templates_compile_and_escape() {
        let tera = super::load().expect("templates load");
        let mut ctx = tera::Context::new();
        ctx.insert("username", "<img src=x onerror=alert(1)>");
        ctx.insert("csrf_token", "t");
        ctx.insert("v", "1");
        ctx.insert("email", "");
        ctx.insert(
            "errors",
            &std::collections::HashMap::<String, String>::new(),
        );
        let html = tera.render("login.html", &ctx).expect("render");
        assert!(!html.contains("<img src=x"));
        assert!(html.contains("&lt;img src=x"));
    }
}
