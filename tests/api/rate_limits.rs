//! Limits on login and registration: failed sign-ins slow their address down without
//! locking the owner out from another, `Retry-After`, registrations per address, and no
//! trust in a client's own `X-Forwarded-For`.

use chatapp::server::Role;
use serde_json::json;

use crate::helpers::{Backend, TestApp, spawn_app_with};

/// A request from `client`, as the trusted proxy (this test's own address) forwards it.
async fn login_from(
    app: &TestApp,
    client: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value, Option<u64>) {
    let mut response = app
        .client
        .post(app.url("/auth/api/login"))
        .insert_header(("X-Forwarded-For", client))
        .send_json(body)
        .await
        .expect("request");
    let bytes = response.body().await.expect("body");
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (
        response.status().as_u16(),
        serde_json::from_slice(&bytes).unwrap_or_default(),
        retry_after,
    )
}

#[actix_web::test]
async fn wrong_passwords_from_one_address_do_not_keep_the_owner_out_from_another() {
    let app = spawn_app_with(Role::All, Backend::Sqlite, |s| {
        s.http.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    })
    .await;
    app.register("dave", "dave's password").await;
    let wrong = json!({"username": "dave", "password": "guess guess"});
    let attacker = "198.51.100.66";
    // Five failures are free; each further one makes the address wait longer.
    for attempt in 1..=6 {
        let (status, body, _) = login_from(&app, attacker, &wrong).await;
        assert_eq!(status, 401, "attempt {attempt}: {body}");
    }
    let (status, body, retry_after) = login_from(&app, attacker, &wrong).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert_eq!(retry_after, Some(1));
    // The right password from the attacker's address is refused too (it is not checked)...
    let right = json!({"username": "DAVE", "password": "dave's password"});
    let (status, _, _) = login_from(&app, attacker, &right).await;
    assert_eq!(status, 429);
    // ...and so is another name from that address, and any address of its IPv6 /64.
    let other = json!({"username": "erin", "password": "whatever it is"});
    let (status, _, _) = login_from(&app, attacker, &other).await;
    assert_eq!(status, 429);

    // The owner, from elsewhere, signs in at once.
    let (status, body, _) = login_from(&app, "203.0.113.5", &right).await;
    assert_eq!(status, 200, "{body}");

    // After the time it named, the address may try again (and the delay has grown).
    actix_web::rt::time::sleep(std::time::Duration::from_secs(1)).await;
    let (status, _, _) = login_from(&app, attacker, &wrong).await;
    assert_eq!(status, 401);
    let (status, _, retry_after) = login_from(&app, attacker, &wrong).await;
    assert_eq!(status, 429);
    assert_eq!(retry_after, Some(2));
    app.stop().await;
}

#[actix_web::test]
async fn ipv6_addresses_are_limited_by_their_64() {
    let app = spawn_app_with(Role::All, Backend::Sqlite, |s| {
        s.http.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    })
    .await;
    app.register("fay", "fay's password").await;
    let wrong = json!({"username": "fay", "password": "guess guess"});
    for i in 1..=6 {
        let (status, _, _) = login_from(&app, &format!("2001:db8:7:7::{i}"), &wrong).await;
        assert_eq!(status, 401);
    }
    // A new address in the same /64 is the same client.
    let (status, _, _) = login_from(&app, "2001:db8:7:7:ffff::1", &wrong).await;
    assert_eq!(status, 429);
    let right = json!({"username": "fay", "password": "fay's password"});
    let (status, body, _) = login_from(&app, "2001:db8:7:8::1", &right).await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}

#[actix_web::test]
async fn requests_are_limited_per_client_address() {
    let app = spawn_app_with(Role::All, Backend::Sqlite, |s| {
        s.auth.requests_per_address_per_minute = 3;
    })
    .await;
    for i in 0..3 {
        let body = json!({"username": format!("nobody{i}"), "password": "whatever you like"});
        let (status, answer, _) = app.post_json("/auth/api/register", &body).await;
        assert!(status == 201, "request {i}: {answer}");
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
