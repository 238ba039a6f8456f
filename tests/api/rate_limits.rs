//! Rate limits on login and registration: per username and per client address, with
//! `Retry-After`, recovery, and no trust in a client's own `X-Forwarded-For`.

use chatapp::server::Role;
use serde_json::json;

use crate::helpers::{Backend, spawn_app_with};

#[actix_web::test]
async fn failed_logins_are_limited_per_username_and_recover() {
    let app = spawn_app_with(Role::All, Backend::Sqlite, |s| {
        s.auth.logins_per_username_per_minute = 60;
    })
    .await;
    app.register("dave", "dave's password").await;
    let wrong = json!({"username": "dave", "password": "guess guess"});
    for attempt in 1..=60 {
        let (status, body, _) = app.post_json("/auth/api/login", &wrong).await;
        assert_eq!(status, 401, "attempt {attempt}: {body}");
    }
    // Limited now, even with the right password, and for any spelling of the name.
    let right = json!({"username": "DAVE", "password": "dave's password"});
    let (status, body, headers) = app.post_json("/auth/api/login", &right).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    let retry_after: u64 = headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a numeric Retry-After");
    assert!((1..=2).contains(&retry_after), "{retry_after}");

    // Another user is not affected.
    app.register("erin", "erin's password").await;
    app.login("erin", "erin's password").await;

    // After the time it named, the right password works again.
    actix_web::rt::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    let (status, body, _) = app.post_json("/auth/api/login", &right).await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}

#[actix_web::test]
async fn requests_are_limited_per_client_address() {
    let app = spawn_app_with(Role::All, Backend::Sqlite, |s| {
        s.auth.requests_per_address_per_minute = 60;
    })
    .await;
    for i in 0..60 {
        let body = json!({"username": format!("nobody{i}"), "password": "whatever you like"});
        let (status, answer, _) = app.post_json("/auth/api/login", &body).await;
        assert_eq!(status, 401, "request {i}: {answer}");
    }
    let body = json!({"username": "newcomer", "password": "whatever you like"});
    let (status, answer, headers) = app.post_json("/auth/api/register", &body).await;
    assert_eq!(status, 429, "{answer}");
    assert!(headers.contains_key("retry-after"));
    // A spoofed X-Forwarded-For from an untrusted peer changes nothing.
    let response = app
        .client
        .post(app.url("/auth/api/register"))
        .insert_header(("X-Forwarded-For", "198.51.100.1"))
        .send_json(&body)
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 429);
    app.stop().await;
}
