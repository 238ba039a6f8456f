//! The account page in real headless Chromium, at a desktop and at a phone size: the
//! sessions of an account and signing them out (the other browser's chat page ends on the
//! sign-in form), changing the password, turning on two-factor sign-in and signing in with
//! a code, and a password reset link. Without a browser: who gets the account page, and
//! what the reset page answers.

use std::time::{SystemTime, UNIX_EPOCH};

use chatapp::server::Role;
use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::helpers::webdriver::{Browser, Driver};
use crate::helpers::{Backend, Browser as FormBrowser, Size, TestApp, spawn_app_with};

const PASSWORD: &str = "an account password";
const NEW_PASSWORD: &str = "a brand new password";

const CONNECTED: &str =
    "document.querySelector('[data-role=connection-state]')?.dataset.state === 'connected'";
const SESSIONS: &str = "document.querySelectorAll('[data-role=sessions] li[data-session]').length";
const ON_SIGN_IN_FORM: &str = "location.pathname === '/auth/login' && document.readyState === 'complete' \
     && document.querySelector('form[action=\"/auth/login\"] #username') !== null";

async fn workspace() -> TestApp {
    // Open registration: the first account is the administrator's.
    spawn_app_with(Role::All, Backend::Sqlite, |_| {}).await
}

/// Signs in through the form and lands on the chat page, connected.
async fn sign_in(page: &Browser, base: &str, username: &str, password: &str) {
    page.goto(&format!("{base}/auth/login")).await;
    page.wait_for(ON_SIGN_IN_FORM).await;
    page.type_into("#username", username).await;
    page.type_into("#password", password).await;
    page.click("form button[type=submit]").await;
    page.wait_for(CONNECTED).await;
}

/// Replaces what a field holds with `text`, typed as a person would.
async fn fill(page: &Browser, css: &str, text: &str) {
    page.js(
        "document.querySelector(arguments[0]).value = '';",
        json!([css]),
    )
    .await;
    page.type_into(css, text).await;
}

/// The account page, from the chat page's link, with its sessions listed. On a phone the
/// header has no room for it: it is in the panel the menu button opens.
async fn open_account(page: &Browser) {
    let link = page
        .js(
            "const header = document.querySelector('[data-role=account-link]');
             if (getComputedStyle(header).display !== 'none') return '[data-role=account-link]';
             const toggle = document.getElementById('nav-toggle');
             if (toggle.getAttribute('aria-expanded') !== 'true') toggle.click();
             return '[data-role=nav-account-link]';",
            json!([]),
        )
        .await;
    page.click(link.as_str().expect("a link")).await;
    page.wait_for("location.pathname === '/account'").await;
    page.wait_for(&format!("{SESSIONS} > 0")).await;
}

async fn text_of(page: &Browser, css: &str) -> String {
    let v = page
        .js(
            "return document.querySelector(arguments[0])?.textContent ?? null;",
            json!([css]),
        )
        .await;
    v.as_str()
        .unwrap_or_else(|| panic!("no element {css}"))
        .to_owned()
}

/// Signs in through the auth API; the status and the body.
async fn api_login(app: &TestApp, username: &str, password: &str) -> (u16, Value) {
    let body = json!({"username": username, "password": password});
    let (status, json, _) = app.post_json("/auth/api/login", &body).await;
    (status, json)
}

crate::both_sizes!(sessions_are_listed_and_signed_out, sessions);
async fn sessions(size: Size) {
    let app = workspace().await;
    let base = app.address.clone();
    let driver = Driver::start().await;
    let here = size.open(&driver).await;
    let there = size.open(&driver).await;
    here.register(&base, "alice", PASSWORD).await;
    sign_in(&there, &base, "alice", PASSWORD).await;
    // A third session: an API client's.
    let api_token = app.login("alice", PASSWORD).await;

    open_account(&here).await;
    here.wait_for(&format!("{SESSIONS} === 3")).await;
    // This device first, marked, and without a button to sign itself out.
    let first = here
        .js(
            "const li = document.querySelector('[data-role=sessions] li[data-session]');
             return { current: li.dataset.current, text: li.textContent,
                      button: li.querySelector('[data-role=end-session]') !== null };",
            json!([]),
        )
        .await;
    assert_eq!(first["current"], "true", "{first}");
    assert!(
        first["text"]
            .as_str()
            .unwrap_or_default()
            .contains("this device"),
        "{first}"
    );
    assert!(
        first["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Chrome on Linux"),
        "the user agent in a few words: {first}"
    );
    assert_eq!(first["button"], false, "{first}");
    assert!(
        text_of(&here, "[data-role=sessions]")
            .await
            .contains("127.0.0.1"),
        "the client address"
    );
    here.screenshot(&format!("account-sessions-{}", size.name()))
        .await;

    // The API client's session (not a browser's) signed out by its own button: its access
    // token is refused from then on.
    let api_session = here
        .js(
            "return [...document.querySelectorAll('[data-role=sessions] li[data-current=false]')]
                 .find(li => !li.querySelector('.session-device').textContent.includes('Chrome'))
                 ?.dataset.session ?? null;",
            json!([]),
        )
        .await;
    let api_session = api_session.as_str().expect("the API client's session");
    here.click(&format!(
        "[data-role=sessions] li[data-session={}] [data-role=end-session]",
        json!(api_session)
    ))
    .await;
    here.wait_for(&format!("{SESSIONS} === 2")).await;
    let (status, body) = app.get_with_token("/api/me", &api_token).await;
    assert_eq!(status, 401, "{body}");

    // Everywhere else: the other browser's socket is closed (4401), its token fetch is
    // refused, and its chat page ends on the sign-in form.
    there.wait_for(CONNECTED).await;
    here.click("[data-role=end-other-sessions]").await;
    here.wait_for(&format!("{SESSIONS} === 1")).await;
    here.wait_for(
        "document.querySelector('[data-role=account-status]').textContent.includes('One other session was signed out')",
    )
    .await;
    here.wait_for("document.querySelector('[data-role=end-other-sessions]').disabled")
        .await;
    there.wait_for(ON_SIGN_IN_FORM).await;
    there.goto(&format!("{base}/home")).await;
    there.wait_for(ON_SIGN_IN_FORM).await;

    // This browser's own session is untouched.
    here.goto(&format!("{base}/home")).await;
    here.wait_for(CONNECTED).await;
    here.quit().await;
    there.quit().await;
    app.stop().await;
}

crate::both_sizes!(the_password_is_changed_on_the_account_page, password);
async fn password(size: Size) {
    let app = workspace().await;
    let base = app.address.clone();
    let driver = Driver::start().await;
    let page = size.open(&driver).await;
    page.register(&base, "bob", PASSWORD).await;
    open_account(&page).await;

    // A wrong current password: the server's answer, under the field.
    page.type_into("#current-password", "not my password").await;
    page.type_into("#new-password", NEW_PASSWORD).await;
    page.type_into("#confirm-password", NEW_PASSWORD).await;
    page.click("#password-form button[type=submit]").await;
    page.wait_for("document.getElementById('current-password-error').textContent !== ''")
        .await;
    assert_eq!(
        page.js(
            "return document.getElementById('current-password').getAttribute('aria-invalid');",
            json!([])
        )
        .await,
        json!("true")
    );

    // The confirmation differs: said on the page, before asking the server.
    fill(&page, "#current-password", PASSWORD).await;
    fill(&page, "#confirm-password", "a brand new passwort").await;
    page.click("#password-form button[type=submit]").await;
    page.wait_for(
        "document.getElementById('confirm-password-error').textContent === 'The two new passwords differ.'",
    )
    .await;
    assert_eq!(
        text_of(&page, "#current-password-error").await,
        "",
        "the earlier error is gone"
    );

    fill(&page, "#confirm-password", NEW_PASSWORD).await;
    page.click("#password-form button[type=submit]").await;
    page.wait_for(
        "document.querySelector('[data-role=account-status]').textContent.includes('Your password was changed')",
    )
    .await;
    assert_eq!(
        page.js(
            "return document.getElementById('new-password').value;",
            json!([])
        )
        .await,
        json!(""),
        "the form is emptied"
    );
    page.screenshot(&format!("account-password-{}", size.name()))
        .await;

    // The new password signs in, the old one no more; this browser stays signed in.
    let (status, body) = api_login(&app, "bob", NEW_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api_login(&app, "bob", PASSWORD).await;
    assert_eq!(status, 401, "{body}");
    page.goto(&format!("{base}/home")).await;
    page.wait_for(CONNECTED).await;

    // Deactivating takes the password, then a second, explicit yes.
    open_account(&page).await;
    page.type_into("#deactivate-password", PASSWORD).await;
    page.click("#deactivate-form [data-role=ask] button").await;
    page.wait_for("!document.querySelector('#deactivate-form [data-role=confirm]').hidden")
        .await;
    page.click("#deactivate-form [data-role=confirm-yes]").await;
    page.wait_for("document.getElementById('deactivate-password-error').textContent !== ''")
        .await;
    assert!(
        page.js(
            "return document.querySelector('#deactivate-form [data-role=confirm]').hidden;",
            json!([])
        )
        .await
            == json!(true),
        "a wrong password asks again from the start"
    );
    fill(&page, "#deactivate-password", NEW_PASSWORD).await;
    page.click("#deactivate-form [data-role=ask] button").await;
    page.click("#deactivate-form [data-role=confirm-yes]").await;
    page.wait_for(ON_SIGN_IN_FORM).await;
    let (status, body) = api_login(&app, "bob", NEW_PASSWORD).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "account_deactivated", "{body}");
    page.quit().await;
    app.stop().await;
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

crate::both_sizes!(two_factor_sign_in_is_set_up_and_used, two_factor);
async fn two_factor(size: Size) {
    let app = workspace().await;
    let base = app.address.clone();
    let driver = Driver::start().await;
    let page = size.open(&driver).await;
    page.register(&base, "carol", PASSWORD).await;
    open_account(&page).await;
    page.wait_for("document.getElementById('totp').dataset.state === 'off'")
        .await;

    // Set-up: the QR code shows (an image the CSP lets through), and the key as text.
    page.click("[data-role=totp-start]").await;
    page.wait_for("document.getElementById('totp').dataset.state === 'enrolling'")
        .await;
    page.wait_for(
        "document.querySelector('[data-role=totp-qr]').complete && document.querySelector('[data-role=totp-qr]').naturalWidth > 0",
    )
    .await;
    let secret = page
        .js(
            "return document.querySelector('[data-role=totp-secret]').dataset.secret;",
            json!([]),
        )
        .await;
    let secret = secret.as_str().expect("the secret").to_owned();
    let shown = text_of(&page, "[data-role=totp-secret]").await;
    assert_eq!(shown.replace(' ', ""), secret, "the key as shown: {shown}");
    page.screenshot(&format!("account-totp-setup-{}", size.name()))
        .await;

    let totp = TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        30,
        Secret::Encoded(secret.clone()).to_bytes().expect("base32"),
        None,
        "x".into(),
    )
    .expect("a TOTP");

    // A wrong code is refused on the page; the right one turns it on.
    page.type_into("#totp-code", "12345").await;
    page.click("#totp-confirm-form button[type=submit]").await;
    page.wait_for(
        "document.getElementById('totp-code-error').textContent === 'The code is 6 digits.'",
    )
    .await;
    fill(
        &page,
        "#totp-code",
        &totp.generate_current().expect("a code"),
    )
    .await;
    page.click("#totp-confirm-form button[type=submit]").await;
    page.wait_for("document.getElementById('totp').dataset.state === 'codes'")
        .await;
    let codes = page
        .js(
            "return [...document.querySelectorAll('[data-role=recovery-code]')].map(c => c.textContent);",
            json!([]),
        )
        .await;
    let codes: Vec<String> = serde_json::from_value(codes).expect("codes");
    assert_eq!(codes.len(), 10, "{codes:?}");
    let mut distinct = codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "{codes:?}");
    assert_eq!(
        page.js(
            "return document.querySelector('[data-role=totp-secret]').textContent;",
            json!([])
        )
        .await,
        json!(""),
        "the key is gone from the page"
    );
    page.screenshot(&format!("account-totp-codes-{}", size.name()))
        .await;
    page.click("[data-role=codes-done]").await;
    page.wait_for("document.getElementById('totp').dataset.state === 'on'")
        .await;
    assert_eq!(
        page.js(
            "return document.querySelectorAll('[data-role=recovery-code]').length;",
            json!([])
        )
        .await,
        json!(0),
        "the codes are shown once"
    );

    // Signing in again: the password alone is not enough.
    let (status, body) = api_login(&app, "carol", PASSWORD).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "totp_required", "{body}");
    page.click("#signout-form button[type=submit]").await;
    page.wait_for(ON_SIGN_IN_FORM).await;
    page.type_into("#username", "carol").await;
    page.type_into("#password", PASSWORD).await;
    page.click("form button[type=submit]").await;
    page.wait_for(
        "document.querySelector('input#totp[autocomplete=one-time-code][inputmode=numeric]')",
    )
    .await;
    let asked = page
        .js(
            "return { alert: document.querySelector('.form-error').textContent,
                      username: document.getElementById('username').value,
                      password: document.getElementById('password').value,
                      html: document.documentElement.outerHTML };",
            json!([]),
        )
        .await;
    assert_eq!(
        asked["alert"],
        "Enter the code from your authenticator app (or a recovery code)."
    );
    assert_eq!(asked["username"], "carol");
    assert_eq!(asked["password"], "", "the password is not put back");
    assert!(
        !asked["html"]
            .as_str()
            .unwrap_or_default()
            .contains(PASSWORD),
        "the password is nowhere in the page"
    );
    page.screenshot(&format!("account-totp-sign-in-{}", size.name()))
        .await;
    // The next step's code: the one used to turn it on is not accepted twice (and the
    // server allows one step of clock skew).
    let code = totp.generate(unix_now() + 30);
    page.type_into("#password", PASSWORD).await;
    page.type_into("#totp", &code).await;
    page.click("form button[type=submit]").await;
    page.wait_for(CONNECTED).await;

    // Turning it off takes a code too: a recovery code does.
    open_account(&page).await;
    page.wait_for("document.getElementById('totp').dataset.state === 'on'")
        .await;
    page.type_into("#totp-off-code", &codes[0]).await;
    page.click("#totp-off-form button[type=submit]").await;
    page.wait_for("document.getElementById('totp').dataset.state === 'off'")
        .await;
    let (status, body) = api_login(&app, "carol", PASSWORD).await;
    assert_eq!(status, 200, "{body}");

    // Deleting the account: the password, a second yes, then the sign-in form; the name is
    // free again.
    page.type_into("#delete-password", PASSWORD).await;
    page.click("#delete-form [data-role=ask] button").await;
    page.wait_for("!document.querySelector('#delete-form [data-role=confirm]').hidden")
        .await;
    page.screenshot(&format!("account-delete-confirm-{}", size.name()))
        .await;
    page.click("#delete-form [data-role=confirm-yes]").await;
    page.wait_for(ON_SIGN_IN_FORM).await;
    let (status, body) = api_login(&app, "carol", PASSWORD).await;
    assert_eq!(status, 401, "{body}");
    app.register("carol", PASSWORD).await;
    page.quit().await;
    app.stop().await;
}

crate::both_sizes!(a_reset_link_sets_a_new_password, reset_link);
async fn reset_link(size: Size) {
    let app = workspace().await;
    let base = app.address.clone();
    let driver = Driver::start().await;
    let page = size.open(&driver).await;
    page.register(&base, "alice", PASSWORD).await;
    app.register("bob", PASSWORD).await;
    let bob_token = app.login("bob", PASSWORD).await;

    // The admin page makes one too, and shows it whole, to copy.
    page.goto(&format!("{base}/admin")).await;
    page.wait_for("document.querySelector('[data-role=admin-users] tr[data-user=bob] [data-role=reset-link]')")
        .await;
    page.click("[data-role=admin-users] tr[data-user=bob] [data-role=reset-link]")
        .await;
    page.wait_for(
        "document.querySelector('[data-role=reset-links] li[data-user=bob] [data-role=reset-url]')",
    )
    .await;
    let shown = page
        .js(
            "return document.querySelector('[data-role=reset-links] li[data-user=bob] [data-role=reset-url]').value;",
            json!([]),
        )
        .await;
    assert!(
        shown
            .as_str()
            .unwrap_or_default()
            .starts_with(&format!("{base}/auth/reset/")),
        "{shown}"
    );
    assert!(
        text_of(&page, "[data-role=reset-links] li[data-user=bob]")
            .await
            .contains("Works once, until")
    );
    page.wait_for("[...document.querySelectorAll('[data-role=audit-log] li')].some(l => l.textContent.includes('alice made a password reset link for bob'))")
        .await;
    page.screenshot(&format!("account-admin-reset-link-{}", size.name()))
        .await;

    // The link bob is sent, made through the API.
    let admin = app.login("alice", PASSWORD).await;
    let (status, link) = app
        .post_with_token("/api/admin/users/bob/reset_link", &admin, &json!({}))
        .await;
    assert_eq!(status, 200, "{link}");
    let url = link["url"].as_str().expect("url").to_owned();
    let token = url.trim_start_matches("/auth/reset/").to_owned();
    assert!(!token.is_empty(), "{link}");

    page.goto(&format!("{base}{url}")).await;
    page.wait_for("document.querySelector('[data-role=reset-form]')")
        .await;
    let html = page
        .js("return document.documentElement.outerHTML;", json!([]))
        .await;
    assert!(
        !html.as_str().unwrap_or_default().contains(&token),
        "the token stays out of the page"
    );
    page.screenshot(&format!("account-reset-form-{}", size.name()))
        .await;
    page.type_into("#password", NEW_PASSWORD).await;
    page.type_into("#password_confirm", NEW_PASSWORD).await;
    page.click("[data-role=reset-form] button[type=submit]")
        .await;
    page.wait_for(&format!(
        "{ON_SIGN_IN_FORM} && document.querySelector('[data-role=reset-notice]')"
    ))
    .await;
    assert_eq!(
        text_of(&page, "[data-role=reset-notice]").await,
        "Your password was changed. Sign in with the new one."
    );
    page.screenshot(&format!("account-reset-done-{}", size.name()))
        .await;

    // Bob's sessions ended with it; the new password signs in, the old one no more.
    let (status, _) = app.get_with_token("/api/me", &bob_token).await;
    assert_eq!(status, 401);
    let (status, body) = api_login(&app, "bob", PASSWORD).await;
    assert_eq!(status, 401, "{body}");
    page.type_into("#username", "bob").await;
    page.type_into("#password", NEW_PASSWORD).await;
    page.click("form button[type=submit]").await;
    page.wait_for(CONNECTED).await;

    // Once used, the link says so.
    page.goto(&format!("{base}{url}")).await;
    page.wait_for("document.querySelector('[data-role=reset-error]')")
        .await;
    assert_eq!(
        text_of(&page, "[data-role=reset-error]").await,
        "This link is no longer valid. Ask an administrator for a new one."
    );
    assert_eq!(
        page.js(
            "return document.querySelector('[data-role=reset-form]');",
            json!([])
        )
        .await,
        json!(null)
    );
    page.screenshot(&format!("account-reset-gone-{}", size.name()))
        .await;
    page.quit().await;
    app.stop().await;
}

/// Without a browser: the account page is for a signed-in, usable account; the sign-in
/// page says when a password was reset; the reset page checks its form and its link.
#[actix_web::test]
async fn the_account_and_reset_pages() {
    let app = workspace().await;
    let mut visitor = FormBrowser::new(&app.address);
    let page = visitor.get("/account").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location(), Some("/auth/login"));

    let mut alice = FormBrowser::new(&app.address);
    alice.register("alice", PASSWORD).await;
    let page = alice.get("/account").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("/static/js/account.js?v="));
    assert!(page.body.contains("data-role=\"sessions\""));
    assert!(!page.csrf_token().is_empty(), "the sign-out form");
    let csp = page
        .headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("img-src 'self' data:"), "the QR code: {csp}");
    let (status, js) = app.get_text("/static/js/account.js").await;
    assert_eq!(status, 200);
    assert!(js.contains("sessions.js"));
    for module in ["sessions.js", "passwords.js", "two_factor.js"] {
        let (status, _) = app.get_text(&format!("/static/js/{module}")).await;
        assert_eq!(status, 200, "{module}");
    }

    // The sign-in page says a password was reset only when it was.
    let page = visitor.get("/auth/login?reset=1").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("Your password was changed. Sign in with the new one.")
    );
    let page = visitor.get("/auth/login").await;
    assert!(!page.body.contains("Your password was changed"));
    assert!(
        !page.body.contains("name=\"totp\""),
        "no code field at first"
    );
    let page = visitor.get("/auth/login?reset=1&reset=2").await;
    assert_eq!(page.status, 200, "an odd query is no reason to refuse");

    // The reset page: an unknown link is gone (410), without a form.
    let page = visitor.get("/auth/reset/not-a-real-link").await;
    assert_eq!(page.status, 410, "{}", page.body);
    assert!(page.body.contains("This link is no longer valid"));
    assert!(!page.body.contains("name=\"password\""));

    app.register("bob", PASSWORD).await;
    let admin = app.login("alice", PASSWORD).await;
    let (status, link) = app
        .post_with_token("/api/admin/users/bob/reset_link", &admin, &json!({}))
        .await;
    assert_eq!(status, 200, "{link}");
    let url = link["url"].as_str().expect("url").to_owned();
    let token = url.trim_start_matches("/auth/reset/").to_owned();
    let mut bob = FormBrowser::new(&app.address);
    let form = bob.get(&url).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(
        !form.body.contains(&token),
        "the token stays out of the page"
    );
    assert_eq!(
        form.headers
            .get("referrer-policy")
            .and_then(|v| v.to_str().ok()),
        Some("no-referrer"),
        "nor is it sent on in a Referer"
    );
    let csrf = form.csrf_token();

    // Without the CSRF token: refused, and the link is not used up.
    let page = bob
        .post_form(
            &url,
            &[
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, 403);
    // The two passwords differ: said, and the link still works.
    let page = bob
        .post_form(
            &url,
            &[
                ("password", NEW_PASSWORD),
                ("password_confirm", "something else"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("the two passwords differ"));
    // Too short: the server's rule.
    let page = bob
        .post_form(
            &url,
            &[
                ("password", "short"),
                ("password_confirm", "short"),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(
        !page.body.contains("value=\"short\""),
        "the password is not put back"
    );
    let page = bob
        .post_form(
            &url,
            &[
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location(), Some("/auth/login?reset=1"));

    // Used: gone, on a second post and on the page.
    let page = bob
        .post_form(
            &url,
            &[
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(page.status, 410, "{}", page.body);
    assert!(page.body.contains("This link is no longer valid"));
    let page = visitor.get(&url).await;
    assert_eq!(page.status, 410);
    bob.sign_in("bob", NEW_PASSWORD).await;

    // A deactivated account's session is sent to /auth/expired.
    let (status, _) = app
        .post_with_token("/api/admin/users/bob", &admin, &json!({"active": false}))
        .await;
    assert_eq!(status, 200);
    let page = bob.get("/account").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location(), Some("/auth/expired"));
    app.stop().await;
}
