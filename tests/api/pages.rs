//! The sign-in pages of `front`: redirects, cookies, CSRF, field errors.

use chatapp::server::Role;

use crate::helpers::{Backend, Browser, spawn_app};

#[actix_web::test]
async fn signed_out_visitors_are_sent_to_sign_in() {
    let app = spawn_app(Role::All, Backend::Sqlite).await;
    // (A workspace without accounts sends `/` to the registration form instead.)
    app.register("first", "first's password").await;
    let mut browser = Browser::new(&app.address);
    for path in ["/", "/home"] {
        let page = browser.get(path).await;
        assert_eq!(page.status, 303, "{path}");
        assert_eq!(page.location(), Some("/auth/login"), "{path}");
    }
    let page = browser.get("/auth/login").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"username\"") && page.body.contains("name=\"password\""));
    let csp = page
        .headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok());
    assert!(
        csp.is_some_and(|c| c.contains("script-src 'self'")),
        "{csp:?}"
    );
    let csrf = page.set_cookie("chatapp_csrf").expect("a CSRF cookie");
    assert!(
        csrf.contains("HttpOnly") && csrf.contains("SameSite=Strict"),
        "{csrf}"
    );
    app.stop().await;
}

#[actix_web::test]
async fn register_sign_out_and_sign_in_again() {
    let app = spawn_app(Role::All, Backend::Sqlite).await;
    let mut browser = Browser::new(&app.address);
    browser.register("grace", "grace's password").await;
    let home = browser.get("/home").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("grace"));
    assert_eq!(browser.get("/").await.location(), Some("/home"));
    assert_eq!(browser.get("/auth/login").await.location(), Some("/home"));
    // The cookie also authenticates the JSON API.
    let me = browser.get("/api/me").await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert!(me.body.contains("\"username\":\"grace\""));

    // Sign out needs the page's CSRF token.
    let refused = browser.post_form("/auth/logout", &[]).await;
    assert_eq!(refused.status, 403);
    assert_eq!(browser.get("/home").await.status, 200, "still signed in");
    let token = browser.get("/home").await.csrf_token();
    let out = browser
        .post_form("/auth/logout", &[("csrf_token", &token)])
        .await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location(), Some("/auth/login"));
    assert!(
        !browser.cookies.contains_key("chatapp_session"),
        "session cookie removed"
    );
    assert_eq!(browser.get("/home").await.status, 303);

    let signed_in = browser.sign_in("GRACE", "grace's password").await;
    let cookie = signed_in
        .set_cookie("chatapp_session")
        .expect("session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    assert_eq!(browser.get("/home").await.status, 200);
    app.stop().await;
}

#[actix_web::test]
async fn form_posts_without_a_matching_csrf_token_are_refused() {
    let app = spawn_app(Role::All, Backend::Sqlite).await;
    app.register("heidi", "heidi's password").await;
    let good = [("username", "heidi"), ("password", "heidi's password")];

    // No cookie, no token.
    let mut stranger = Browser::new(&app.address);
    let page = stranger.post_form("/auth/login", &good).await;
    assert_eq!(page.status, 403);
    assert!(page.set_cookie("chatapp_session").is_none());

    // The cookie, but a token that is not its twin.
    let mut browser = Browser::new(&app.address);
    browser.get("/auth/login").await;
    let mut forged = good.to_vec();
    forged.push(("csrf_token", "made-up"));
    let page = browser.post_form("/auth/login", &forged).await;
    assert_eq!(page.status, 403);
    assert!(page.set_cookie("chatapp_session").is_none());

    // A token, but no cookie (as from another site's form).
    let token = Browser::new(&app.address)
        .get("/auth/login")
        .await
        .csrf_token();
    let mut other = Browser::new(&app.address);
    let mut with_token = good.to_vec();
    with_token.push(("csrf_token", &token));
    let page = other.post_form("/auth/login", &with_token).await;
    assert_eq!(page.status, 403);

    let page = Browser::new(&app.address)
        .post_form(
            "/auth/register",
            &[("username", "ivan"), ("password", "ivan's password")],
        )
        .await;
    assert_eq!(page.status, 403);
    app.stop().await;
}

#[actix_web::test]
async fn forms_show_errors_next_to_their_fields() {
    let app = spawn_app(Role::All, Backend::Sqlite).await;
    app.register("judy", "judy's password").await;
    let mut browser = Browser::new(&app.address);
    let token = browser.get("/auth/register").await.csrf_token();

    let page = browser
        .post_form(
            "/auth/register",
            &[
                ("username", "kim"),
                ("password", "short"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("id=\"password-error\""), "{}", page.body);
    assert!(page.body.contains("at least 8 characters"));
    assert!(page.body.contains("value=\"kim\""), "the username is kept");

    let page = browser
        .post_form(
            "/auth/register",
            &[
                ("username", "JUDY"),
                ("password", "long enough"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(page.status, 409);
    assert!(page.body.contains("id=\"username-error\""));

    let page = browser
        .post_form(
            "/auth/register",
            &[
                ("username", "kim"),
                ("password", "long enough"),
                ("password_confirm", "long enuogh"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("id=\"confirm-error\""));

    let token = browser.get("/auth/login").await.csrf_token();
    let page = browser
        .post_form(
            "/auth/login",
            &[
                ("username", "<script>alert(1)</script>"),
                ("password", "whatever it is"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(page.status, 401);
    assert!(page.body.contains("wrong username or password"));
    assert!(
        !page.body.contains("<script>alert(1)"),
        "user text must be escaped"
    );
    assert!(page.body.contains("&lt;script&gt;"));
    app.stop().await;
}

#[actix_web::test]
async fn the_session_cookie_is_secure_behind_https() {
    let app = spawn_app(Role::All, Backend::Sqlite).await;
    app.register("leo", "leo's password").await;
    let mut browser = Browser::new(&app.address);
    let token = browser.get("/auth/login").await.csrf_token();
    let cookies = browser
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let response = app
        .client
        .post(app.url("/auth/login"))
        .insert_header(("Cookie", cookies))
        .insert_header(("X-Forwarded-Proto", "https"))
        .send_form(&[
            ("username", "leo"),
            ("password", "leo's password"),
            ("csrf_token", &token),
        ])
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 303);
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("chatapp_session="))
        .expect("session cookie")
        .to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
    app.stop().await;
}
