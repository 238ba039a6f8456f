//! Accounts people control (issue 14): sessions kept on the server and ended (sign-out,
//! `DELETE /api/sessions`, a password change, a reset link), their sockets closed; passwords
//! never cut at 72 bytes; two-factor sign-in with TOTP and recovery codes; deactivating and
//! deleting one's own account.

use awc::http::Method;
use chatapp::server::Role;
use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, TOTP};

use crate::helpers::{Backend, Browser as FormBrowser, Ended, TestApp, WsClient, spawn_app_with};

const PASSWORD: &str = "correct horse battery";

async fn app_on(backend: Backend) -> TestApp {
    spawn_app_with(Role::All, backend, |_| {}).await
}

/// Signs in through the API asking for a session token: (access token, session token).
async fn sign_in(app: &TestApp, username: &str, password: &str) -> (String, String) {
    let body = json!({"username": username, "password": password, "session": true});
    let (status, json, _) = app.post_json("/auth/api/login", &body).await;
    assert_eq!(status, 200, "{json}");
    (
        json["access_token"].as_str().expect("access").to_owned(),
        json["session_token"].as_str().expect("session").to_owned(),
    )
}

/// `POST /auth/api/token` with a session token: the status.
async fn refresh(app: &TestApp, session: &str) -> u16 {
    app.post_with_token("/auth/api/token", session, &json!({}))
        .await
        .0
}

/// Reads frames until the socket ends; how it ended.
async fn ended(socket: &mut WsClient) -> Ended {
    loop {
        if let Err(ended) = socket.next().await {
            return ended;
        }
    }
}

#[actix_web::test]
async fn signing_out_ends_the_session_its_token_and_its_socket() {
    let app = app_on(Backend::Sqlite).await;
    let mut page = FormBrowser::new(&app.address);
    page.register("ann", PASSWORD).await;
    let cookie = page.cookies.get("chatapp_session").expect("cookie").clone();

    // The page's token, and a socket opened with it.
    let token = page.post_form("/api/token", &[]).await;
    assert_eq!(token.status, 200, "{}", token.body);
    let access: Value = serde_json::from_str(&token.body).expect("json");
    let access = access["access_token"].as_str().expect("token").to_owned();
    let mut socket = WsClient::connect(&app.address, &access).await;
    socket.join("general").await;

    let home = page.get("/home").await;
    let csrf = home.csrf_token();
    let out = page
        .post_form("/auth/logout", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(out.status, 303);

    let started = std::time::Instant::now();
    assert_eq!(ended(&mut socket).await, Ended::Closed(Some(4401)));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    // The old session token mints nothing more, by cookie or by bearer...
    let mut old = FormBrowser::new(&app.address);
    old.cookies.insert("chatapp_session".into(), cookie.clone());
    assert_eq!(old.post_form("/api/token", &[]).await.status, 401);
    assert_eq!(refresh(&app, &cookie).await, 401);
    // ...the REST API refuses it and the access tokens it minted...
    assert_eq!(app.get_with_token("/api/me", &access).await.0, 401);
    // ...and a new socket with such a token is closed at once.
    let mut again = WsClient::connect(&app.address, &access).await;
    assert_eq!(ended(&mut again).await, Ended::Closed(Some(4401)));
    app.stop().await;
}

async fn sessions_are_listed_and_ended_one_by_one(backend: Backend) {
    let app = app_on(backend).await;
    app.register("bea", PASSWORD).await;
    let (laptop, laptop_session) = sign_in(&app, "bea", PASSWORD).await;
    let (phone, phone_session) = sign_in(&app, "bea", PASSWORD).await;

    let (status, list) = app.get_with_token("/api/sessions", &laptop).await;
    assert_eq!(status, 200, "{list}");
    let sessions = list["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 2, "{list}");
    let current: Vec<&Value> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    for field in [
        "id",
        "created_at",
        "last_seen_at",
        "user_agent",
        "client_addr",
    ] {
        assert!(sessions[0].get(field).is_some(), "{field}: {list}");
    }
    let phone_id = sessions
        .iter()
        .find(|s| s["current"] == false)
        .and_then(|s| s["id"].as_str())
        .expect("the other session")
        .to_owned();

    // Another user's session (or none) is not found.
    app.register("cid", PASSWORD).await;
    let (cid, _) = sign_in(&app, "cid", PASSWORD).await;
    let (status, _) = app
        .send_with_token(
            Method::DELETE,
            &format!("/api/sessions/{phone_id}"),
            &cid,
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(refresh(&app, &phone_session).await, 200);

    let mut socket = WsClient::connect(&app.address, &phone).await;
    socket.join("general").await;
    let (status, _) = app
        .send_with_token(
            Method::DELETE,
            &format!("/api/sessions/{phone_id}"),
            &laptop,
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(ended(&mut socket).await, Ended::Closed(Some(4401)));
    assert_eq!(refresh(&app, &phone_session).await, 401);
    assert_eq!(app.get_with_token("/api/me", &phone).await.0, 401);
    assert_eq!(refresh(&app, &laptop_session).await, 200);
    let (_, list) = app.get_with_token("/api/sessions", &laptop).await;
    assert_eq!(list["sessions"].as_array().map(Vec::len), Some(1));

    // Everywhere else: every other session ends, the current one stays.
    let (_, tablet_session) = sign_in(&app, "bea", PASSWORD).await;
    let (status, body) = app
        .send_with_token(Method::DELETE, "/api/sessions", &laptop, None)
        .await;
    assert_eq!((status, body["ended"].clone()), (200, json!(1)));
    assert_eq!(refresh(&app, &tablet_session).await, 401);
    assert_eq!(refresh(&app, &laptop_session).await, 200);
    app.stop().await;
}

crate::both_backends!(
    sessions_are_listed_and_ended,
    sessions_are_listed_and_ended_one_by_one
);

async fn a_password_change_ends_the_other_sessions(backend: Backend) {
    let app = app_on(backend).await;
    app.register("dan", PASSWORD).await;
    let (here, here_session) = sign_in(&app, "dan", PASSWORD).await;
    let (there, there_session) = sign_in(&app, "dan", PASSWORD).await;
    let mut socket = WsClient::connect(&app.address, &there).await;
    socket.join("general").await;

    let (status, body) = app
        .post_with_token(
            "/api/me/password",
            &here,
            &json!({"current": "not my password", "new": "a new password"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("wrong_password"))
    );
    let (status, body) = app
        .post_with_token(
            "/api/me/password",
            &here,
            &json!({"current": PASSWORD, "new": "short"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (422, json!("password"))
    );
    let (status, body) = app
        .post_with_token(
            "/api/me/password",
            &here,
            &json!({"current": PASSWORD, "new": "a new password"}),
        )
        .await;
    assert_eq!(status, 204, "{body}");

    assert_eq!(ended(&mut socket).await, Ended::Closed(Some(4401)));
    assert_eq!(refresh(&app, &there_session).await, 401);
    assert_eq!(refresh(&app, &here_session).await, 200);
    let old = json!({"username": "dan", "password": PASSWORD});
    assert_eq!(app.post_json("/auth/api/login", &old).await.0, 401);
    app.login("dan", "a new password").await;
    app.stop().await;
}

crate::both_backends!(password_change, a_password_change_ends_the_other_sessions);

#[actix_web::test]
async fn passwords_over_72_bytes_are_refused_never_cut() {
    let app = app_on(Backend::Sqlite).await;
    let exactly = "p".repeat(72);
    app.register("eve", &exactly).await;
    app.login("eve", &exactly).await;
    // bcrypt would read only the first 72 bytes of these: they are not the password.
    for longer in [
        format!("{exactly}q"),
        format!("{exactly}{}", "x".repeat(50)),
    ] {
        let body = json!({"username": "eve", "password": longer});
        let (status, json, _) = app.post_json("/auth/api/login", &body).await;
        assert_eq!(status, 401, "{json}");
    }
    // 73 bytes (and 72 bytes in fewer characters) are refused where passwords are set.
    let body = json!({"username": "fox", "password": "p".repeat(73)});
    let (status, json, _) = app.post_json("/auth/api/register", &body).await;
    assert_eq!(status, 422, "{json}");
    assert_eq!(json["error"]["field"], "password");
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("72 bytes")
    );
    let body = json!({"username": "fox", "password": "é".repeat(37)});
    assert_eq!(app.post_json("/auth/api/register", &body).await.0, 422);
    let token = app.login("eve", &exactly).await;
    let (status, _) = app
        .post_with_token(
            "/api/me/password",
            &token,
            &json!({"current": exactly, "new": "n".repeat(73)}),
        )
        .await;
    assert_eq!(status, 422);
    app.stop().await;
}

fn code_for(secret: &str, at: u64) -> String {
    let bytes = Secret::Encoded(secret.to_owned())
        .to_bytes()
        .expect("base32");
    TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, None, "test".into())
        .expect("totp")
        .generate(at)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

async fn two_factor_sign_in_with_totp_and_recovery_codes(backend: Backend) {
    let app = app_on(backend).await;
    app.register("gus", PASSWORD).await;
    let token = app.login("gus", PASSWORD).await;
    let (_, me) = app.get_with_token("/api/me", &token).await;
    assert_eq!(me["totp"], false);

    let (status, setup) = app
        .post_with_token("/api/me/totp", &token, &json!({}))
        .await;
    assert_eq!(status, 200, "{setup}");
    let secret = setup["secret"].as_str().expect("secret").to_owned();
    assert!(
        setup["otpauth_url"]
            .as_str()
            .unwrap_or_default()
            .starts_with("otpauth://totp/")
    );
    assert!(
        setup["qr_svg"]
            .as_str()
            .unwrap_or_default()
            .contains("<svg")
    );
    // Not required until confirmed.
    app.login("gus", PASSWORD).await;

    let (status, body) = app
        .post_with_token("/api/me/totp/confirm", &token, &json!({"code": "000000"}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("wrong_code"))
    );
    // The code of the previous step: the next sign-in uses the current one.
    let earlier = code_for(&secret, now() - 30);
    let (status, body) = app
        .post_with_token("/api/me/totp/confirm", &token, &json!({"code": earlier}))
        .await;
    assert_eq!(status, 200, "{body}");
    let codes: Vec<String> = body["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    let (_, me) = app.get_with_token("/api/me", &token).await;
    assert_eq!(me["totp"], true);

    // The password alone is not enough now.
    let bare = json!({"username": "gus", "password": PASSWORD});
    let (status, body, _) = app.post_json("/auth/api/login", &bare).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("totp_required"))
    );
    let t = now();
    let valid = [t - 30, t, t + 30].map(|at| code_for(&secret, at));
    let wrong_code = (0..10)
        .map(|n| format!("{n:06}"))
        .find(|c| !valid.contains(c))
        .expect("a wrong code");
    let wrong = json!({"username": "gus", "password": PASSWORD, "totp": wrong_code});
    let (status, body, _) = app.post_json("/auth/api/login", &wrong).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("invalid_credentials"))
    );
    let code = code_for(&secret, now());
    let good = json!({"username": "gus", "password": PASSWORD, "totp": code});
    let (status, body, _) = app.post_json("/auth/api/login", &good).await;
    assert_eq!(status, 200, "{body}");
    // A code works once.
    let (status, _, _) = app.post_json("/auth/api/login", &good).await;
    assert_eq!(status, 401);
    // So does each recovery code, typed any way.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let recovery = json!({"username": "gus", "password": PASSWORD, "totp": typed});
    let (status, body, _) = app.post_json("/auth/api/login", &recovery).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = app.post_json("/auth/api/login", &recovery).await;
    assert_eq!(status, 401);
    // A wrong password with a right code is still wrong.
    let both = json!({"username": "gus", "password": "not the password", "totp": codes[1]});
    assert_eq!(app.post_json("/auth/api/login", &both).await.0, 401);

    // Turned off with a recovery code: the password is enough again.
    let (status, body) = app
        .send_with_token(
            Method::DELETE,
            "/api/me/totp",
            &token,
            Some(&json!({"code": codes[2]})),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    app.login("gus", PASSWORD).await;
    app.stop().await;
}

crate::both_backends!(two_factor, two_factor_sign_in_with_totp_and_recovery_codes);

#[actix_web::test]
async fn a_reset_link_sets_a_new_password_once_and_ends_every_session() {
    let app = app_on(Backend::Sqlite).await;
    app.register("hal", PASSWORD).await; // the administrator
    let admin = app.login("hal", PASSWORD).await;
    app.register("ida", PASSWORD).await;
    let (ida, ida_session) = sign_in(&app, "ida", PASSWORD).await;
    let mut socket = WsClient::connect(&app.address, &ida).await;
    socket.join("general").await;

    // Members cannot make links; unknown users have none.
    let (status, _) = app
        .post_with_token("/api/admin/users/hal/reset_link", &ida, &json!({}))
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .post_with_token("/api/admin/users/nobody/reset_link", &admin, &json!({}))
        .await;
    assert_eq!(status, 404);
    let (status, link) = app
        .post_with_token("/api/admin/users/ida/reset_link", &admin, &json!({}))
        .await;
    assert_eq!(status, 200, "{link}");
    let url = link["url"].as_str().expect("url");
    let token = url.strip_prefix("/auth/reset/").expect("a reset path");
    assert!(link["expires_at"].is_string());

    // A refused password does not use the link up.
    let short = json!({"token": token, "new": "short"});
    assert_eq!(app.post_json("/auth/api/reset", &short).await.0, 422);
    let reset = json!({"token": token, "new": "ida's new password"});
    let (status, body, _) = app.post_json("/auth/api/reset", &reset).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ended"].as_array().map(Vec::len), Some(1));
    // In `all`, the auth API alone does not reach the sockets; the page's reset does (see
    // browser_account). The session is over for the REST API and for new tokens.
    assert_eq!(refresh(&app, &ida_session).await, 401);
    assert_eq!(app.get_with_token("/api/me", &ida).await.0, 401);
    app.login("ida", "ida's new password").await;
    // Once only.
    let again = json!({"token": token, "new": "another password"});
    let (status, body, _) = app.post_json("/auth/api/reset", &again).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (401, json!("unauthorized"))
    );
    drop(socket);
    app.stop().await;
}

async fn deactivating_and_deleting_ones_own_account(backend: Backend) {
    let app = app_on(backend).await;
    app.register("jon", PASSWORD).await; // the administrator
    let admin = app.login("jon", PASSWORD).await;
    app.register("kim", PASSWORD).await;
    app.register("lee", PASSWORD).await;

    // Kim deactivates herself: the password is asked, her socket closes, sign-in refused.
    let (kim, _) = sign_in(&app, "kim", PASSWORD).await;
    let mut socket = WsClient::connect(&app.address, &kim).await;
    socket.join("general").await;
    let (status, _) = app
        .post_with_token(
            "/api/me/deactivate",
            &kim,
            &json!({"password": "wrong one!"}),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .post_with_token("/api/me/deactivate", &kim, &json!({"password": PASSWORD}))
        .await;
    assert_eq!(status, 204);
    assert_eq!(ended(&mut socket).await, Ended::Closed(Some(4401)));
    let body = json!({"username": "kim", "password": PASSWORD});
    let (status, body, _) = app.post_json("/auth/api/login", &body).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (403, json!("account_deactivated"))
    );
    // An administrator brings her back.
    let (status, _) = app
        .post_with_token("/api/admin/users/kim", &admin, &json!({"active": true}))
        .await;
    assert_eq!(status, 200);
    app.login("kim", PASSWORD).await;

    // Lee says something, then deletes his account: the message stays, under another name.
    let (lee, _) = sign_in(&app, "lee", PASSWORD).await;
    let mut socket = WsClient::connect(&app.address, &lee).await;
    socket.join("general").await;
    socket
        .send(json!({"type": "chat", "room": "general", "content": "bye all", "client_id": "c1"}))
        .await;
    socket.recv_type("ack").await;
    let (status, _) = app
        .send_with_token(
            Method::DELETE,
            "/api/me",
            &lee,
            Some(&json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(ended(&mut socket).await, Ended::Closed(Some(4401)));
    let (status, history) = app
        .get_with_token("/api/chat/chat_history?room=general", &admin)
        .await;
    assert_eq!(status, 200);
    let text = history.to_string();
    assert!(text.contains("bye all"), "{text}");
    assert!(!text.contains("\"lee\""), "{text}");
    assert!(text.contains("deleted-"), "{text}");
    let body = json!({"username": "lee", "password": PASSWORD});
    assert_eq!(app.post_json("/auth/api/login", &body).await.0, 401);
    // The name is free again; the deleted account's name is kept from anyone.
    app.register("lee", "a different person").await;
    let body = json!({"username": "Deleted-99", "password": PASSWORD});
    let (status, body, _) = app.post_json("/auth/api/register", &body).await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (422, json!("username"))
    );
    app.stop().await;
}

crate::both_backends!(own_account, deactivating_and_deleting_ones_own_account);
