//! The two-VM shape on one machine: `auth` and `front` as separate processes over one
//! PostgreSQL, only `auth` holding the private key.

use serde_json::{Value, json};

use crate::helpers::{Backend, Browser, ChatappProcess, TestDb, chatapp_cmd};

#[actix_web::test]
async fn split_front_and_auth_sign_in_end_to_end() {
    let db = TestDb::empty(Backend::Postgres);
    let dir = tempfile::tempdir().expect("dir");
    let keys = dir.path().join("keys");
    let out = chatapp_cmd(dir.path())
        .arg("keygen")
        .arg(&keys)
        .output()
        .expect("keygen");
    assert!(out.status.success());
    let out = chatapp_cmd(dir.path())
        .arg("migrate")
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("migrate");
    assert!(out.status.success());

    let mut auth_cmd = chatapp_cmd(dir.path());
    auth_cmd
        .args(["auth", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &db.url)
        .env(
            "CHATAPP__AUTH__SIGNING_KEY_FILE",
            keys.join("jwt_ed25519.pem"),
        )
        .env("CHATAPP__AUTH__BCRYPT_COST", "4")
        .env("CHATAPP__HTTP__TRUSTED_PROXIES", "127.0.0.1");
    let auth = ChatappProcess::start(auth_cmd);

    let mut front_cmd = chatapp_cmd(dir.path());
    front_cmd
        .args(["front", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &db.url)
        .env(
            "CHATAPP__JWT__PUBLIC_KEY_FILE",
            keys.join("jwt_ed25519.pub.pem"),
        )
        .env("CHATAPP__FRONT__AUTH_URL", &auth.address);
    let front = ChatappProcess::start(front_cmd);

    // Through front's pages: register, land on /home, sign out, sign in again.
    let mut browser = Browser::new(&front.address);
    browser.register("mallory", "mallory's password").await;
    let home = browser.get("/home").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("mallory"));
    let token = home.csrf_token();
    browser
        .post_form("/auth/logout", &[("csrf_token", &token)])
        .await;
    browser.sign_in("mallory", "mallory's password").await;
    assert_eq!(browser.get("/home").await.status, 200);

    // Wrong passwords come back from auth as the form's error.
    let mut fresh = Browser::new(&front.address);
    let token = fresh.get("/auth/login").await.csrf_token();
    let page = fresh
        .post_form(
            "/auth/login",
            &[
                ("username", "mallory"),
                ("password", "not the password"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(page.status, 401, "{}", page.body);

    // A token from auth's API is good at front's API.
    let client = awc::Client::default();
    let mut response = client
        .post(format!("{}/auth/api/login", auth.address))
        .send_json(&json!({"username": "mallory", "password": "mallory's password"}))
        .await
        .expect("login");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("json");
    let token = body["access_token"].as_str().expect("token");
    let mut response = client
        .get(format!("{}/api/me", front.address))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send()
        .await
        .expect("me");
    assert_eq!(response.status().as_u16(), 200);
    let me: Value = response.json().await.expect("json");
    assert_eq!(me["username"], "mallory");

    // With auth gone, front says so instead of failing obscurely.
    let (code, _) = auth.terminate();
    assert_eq!(code, Some(0));
    let token = fresh.get("/auth/login").await.csrf_token();
    let page = fresh
        .post_form(
            "/auth/login",
            &[
                ("username", "mallory"),
                ("password", "mallory's password"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(page.status, 503, "{}", page.body);
    let (code, _) = front.terminate();
    assert_eq!(code, Some(0));
}
