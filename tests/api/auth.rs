//! The auth API and tokens: every answer of the contract, forged tokens, rate limits.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chatapp::server::Role;
use chatapp::tokens::{KeyPair, load_signing_key};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64")).expect("json")
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

async fn register_and_login(backend: Backend) {
    let app = spawn_app(Role::All, backend).await;
    let (status, body, _) = app
        .post_json("/auth/api/register", &json!({"username": "Alice", "password": "correct horse", "email": "alice@example.com"}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["username"], "Alice");
    let id = body["id"].as_i64().expect("numeric id");

    for name in ["Alice", "alice", "ALICE"] {
        let (status, body, _) = app
            .post_json(
                "/auth/api/register",
                &json!({"username": name, "password": "another pass"}),
            )
            .await;
        assert_eq!(status, 409, "{name}: {body}");
        assert_eq!(body["error"]["code"], "username_taken");
    }
    let (status, body, _) = app
        .post_json("/auth/api/register", &json!({"username": "alice2", "password": "another pass", "email": "ALICE@example.com"}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "email_taken");

    let (status, body, headers) = app
        .post_json(
            "/auth/api/login",
            &json!({"username": "aLiCe", "password": "correct horse"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert!(
        body.get("session_token").is_none(),
        "no session unless asked for"
    );
    assert_eq!(
        headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );

    let token = body["access_token"].as_str().expect("token");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = decode_part(parts[0]);
    let claims = decode_part(parts[1]);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(claims["sub"], id.to_string());
    assert_eq!(claims["username"], "Alice");
    assert_eq!(claims["aud"], "chatapp:access");
    assert_eq!(claims["iss"], "chatapp");
    let (iat, exp) = (
        claims["iat"].as_u64().expect("iat"),
        claims["exp"].as_u64().expect("exp"),
    );
    assert_eq!(exp - iat, 300);
    // The access token names the server-side session it belongs to.
    assert!(
        claims["sid"].as_str().is_some_and(|s| s.len() >= 20),
        "{claims}"
    );
    assert!(iat.abs_diff(now()) < 60);

    let (status, jwks) = app.get_json("/auth/api/jwks.json").await;
    assert_eq!(status, 200);
    assert_eq!(jwks["keys"][0]["kid"], header["kid"]);
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");

    let (status, me) = app.get_with_token("/api/me", token).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(
        me,
        json!({"id": id, "username": "Alice", "display_name": null, "role": "admin", "totp": false}),
        "the first account is the administrator"
    );
    app.stop().await;
}
both_backends!(register_then_login, register_and_login);

#[actix_web::test]
async fn bad_registrations_are_refused_with_the_field() {
    let app = spawn_app(Role::All, Backend::Sqlite).await;
    let cases = [
        (
            json!({"username": "ab", "password": "long enough"}),
            422,
            "username",
        ),
        (
            json!({"username": "a".repeat(33), "password": "long enough"}),
            422,
            "username",
        ),
        (
            json!({"username": "has space", "password": "long enough"}),
            422,
            "username",
        ),
        (
            json!({"username": "fine", "password": "short"}),
            422,
            "password",
        ),
        (
            json!({"username": "fine", "password": "x".repeat(129)}),
            422,
            "password",
        ),
        (json!({"username": "fine"}), 422, "password"),
        (json!({"password": "long enough"}), 422, "username"),
        (
            json!({"username": "fine", "password": "long enough", "email": "nope"}),
            422,
            "email",
        ),
    ];
    for (body, status, field) in cases {
        let (got, answer, _) = app.post_json("/auth/api/register", &body).await;
        assert_eq!(got, status, "{body} -> {answer}");
        assert_eq!(answer["error"]["code"], "invalid_field", "{answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
        assert!(
            !answer.to_string().contains("long enough"),
            "the password was echoed"
        );
    }
    let response = app
        .client
        .post(app.url("/auth/api/register"))
        .insert_header(("content-type", "application/json"))
        .send_body("{not json")
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 400);
    app.stop().await;
}

#[actix_web::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let app = spawn_app(Role::All, Backend::Sqlite).await;
    app.register("bob", "bob's password").await;
    let wrong = app
        .post_json(
            "/auth/api/login",
            &json!({"username": "bob", "password": "not it at all"}),
        )
        .await;
    let unknown = app
        .post_json(
            "/auth/api/login",
            &json!({"username": "nobody", "password": "not it at all"}),
        )
        .await;
    let invalid_name = app
        .post_json(
            "/auth/api/login",
            &json!({"username": "x", "password": "not it at all"}),
        )
        .await;
    for (status, body, _) in [&wrong, &unknown, &invalid_name] {
        assert_eq!(*status, 401);
        assert_eq!(body["error"]["code"], "invalid_credentials");
    }
    assert_eq!(wrong.1, unknown.1);
    assert_eq!(wrong.1, invalid_name.1);
    app.stop().await;
}

/// Signs `claims` with `pair` under `header`.
pub fn sign(pair: &KeyPair, header: &Header, claims: &Value) -> String {
    let pem = pair.private_pem().expect("pem");
    let key = EncodingKey::from_ed_pem(pem.as_bytes()).expect("key");
    jsonwebtoken::encode(header, claims, &key).expect("sign")
}

pub fn claims_for(id: i64, username: &str, aud: &str, exp: u64) -> Value {
    json!({"sub": id.to_string(), "username": username, "iat": now() - 10, "exp": exp, "aud": aud, "iss": "chatapp"})
}

async fn me_status(app: &TestApp, token: &str) -> u16 {
    let (status, body) = app.get_with_token("/api/me", token).await;
    if status != 200 {
        assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    }
    status
}

#[actix_web::test]
async fn forged_expired_and_misdirected_tokens_are_refused() {
    let app = spawn_app(Role::All, Backend::Sqlite).await;
    let id = app.register("carol", "carol's password").await;
    let good = app.login("carol", "carol's password").await;
    assert_eq!(me_status(&app, &good).await, 200);

    let pair = load_signing_key(&app.data_dir.path().join("jwt_ed25519.pem")).expect("server key");
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(pair.key_id());
    let in_a_while = now() + 600;

    // Our own key, but expired beyond the leeway.
    let expired = sign(
        &pair,
        &header,
        &claims_for(id, "carol", "chatapp:access", now() - 120),
    );
    assert_eq!(me_status(&app, &expired).await, 401, "expired");

    // Our own key, fresh, yet meant for another audience or issuer.
    let session = sign(
        &pair,
        &header,
        &claims_for(id, "carol", "chatapp:session", in_a_while),
    );
    assert_eq!(
        me_status(&app, &session).await,
        401,
        "session token as bearer"
    );
    let mut foreign_iss = claims_for(id, "carol", "chatapp:access", in_a_while);
    foreign_iss["iss"] = json!("evil");
    assert_eq!(
        me_status(&app, &sign(&pair, &header, &foreign_iss)).await,
        401,
        "issuer"
    );

    // Signed by another key, with our kid or its own.
    let other = KeyPair::generate().expect("key");
    let claims = claims_for(id, "carol", "chatapp:access", in_a_while);
    assert_eq!(
        me_status(&app, &sign(&other, &header, &claims)).await,
        401,
        "other key"
    );
    let mut other_header = Header::new(Algorithm::EdDSA);
    other_header.kid = Some(other.key_id());
    assert_eq!(
        me_status(&app, &sign(&other, &other_header, &claims)).await,
        401
    );

    // alg none: no signature at all.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD
            .encode(json!({"alg": "none", "typ": "JWT", "kid": pair.key_id()}).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    assert_eq!(me_status(&app, &none).await, 401, "alg none");

    // HS256 keyed with the public key (the classic algorithm confusion).
    let public_pem = pair.public_pem().expect("pem");
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(pair.key_id());
    let confused = jsonwebtoken::encode(
        &hs,
        &claims,
        &EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .expect("sign");
    assert_eq!(
        me_status(&app, &confused).await,
        401,
        "HS256 with the public key"
    );

    // A real token with a claim changed after signing.
    let parts: Vec<&str> = good.split('.').collect();
    let mut altered = decode_part(parts[1]);
    altered["username"] = json!("mallory");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(altered.to_string()),
        parts[2]
    );
    assert_eq!(me_status(&app, &tampered).await, 401, "altered claims");

    assert_eq!(me_status(&app, "not.a.token").await, 401);
    let (status, body) = app.get_json("/api/me").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    app.stop().await;
}

#[actix_web::test]
async fn session_tokens_refresh_into_access_tokens() {
    let app = spawn_app(Role::All, Backend::Sqlite).await;
    app.register("frank", "frank's password").await;
    let (status, body, _) = app
        .post_json(
            "/auth/api/login",
            &json!({"username": "frank", "password": "frank's password", "session": true}),
        )
        .await;
    assert_eq!(status, 200);
    let session = body["session_token"].as_str().expect("session token");
    assert_eq!(
        decode_part(session.split('.').nth(1).expect("payload"))["aud"],
        "chatapp:session"
    );

    let response = app
        .client
        .post(app.url("/auth/api/token"))
        .insert_header(("Authorization", format!("Bearer {session}")))
        .send()
        .await;
    let mut response = response.expect("request");
    assert_eq!(response.status().as_u16(), 200);
    let refreshed: Value = response.json().await.expect("json");
    let access = refreshed["access_token"].as_str().expect("access token");
    assert_eq!(me_status(&app, access).await, 200);

    // An access token is no session token.
    let response = app
        .client
        .post(app.url("/auth/api/token"))
        .insert_header(("Authorization", format!("Bearer {access}")))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 401);
    app.stop().await;
}
