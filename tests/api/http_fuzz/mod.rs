//! An HTTP fuzz of the REST API, until an OpenAPI description lets schemathesis do it:
//! seeded random requests with malformed bodies, headers, query strings and path
//! parameters against every `/api` and `/auth/api` route of a real server. It checks that
//! no answer is a 5xx, that every error answer is in the contract's shape
//! (`{"error": {"code", "message"}}`), that the server stays healthy, and that another
//! user's ordinary requests, made all the while, keep succeeding.
//!
//! The seed is printed; `CHATAPP_HTTP_FUZZ_SEED=<seed>` repeats a run and
//! `CHATAPP_HTTP_FUZZ_REQUESTS=<n>` changes how many requests it sends (default 2000).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use awc::http::Method;
use chatapp::server::Role;
use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use serde_json::{Value, json};

use crate::helpers::{Backend, spawn_app};
use requests::{Request, Tokens, request};

mod requests;

/// Requests in flight at once.
const IN_FLIGHT: usize = 8;
/// Longer than any answer should take: a request that does not end is a failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends a request; the status and body, or why there was no answer.
async fn send(client: &awc::Client, req: &Request) -> Result<(u16, Vec<u8>), String> {
    let mut builder = client
        .request(req.method.clone(), req.url.as_str())
        .timeout(REQUEST_TIMEOUT);
    for (name, value) in &req.headers {
        builder = builder.insert_header((name.as_str(), value.as_str()));
    }
    let mut response = builder
        .send_body(req.body.clone())
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    let body = response
        .body()
        .limit(4 << 20)
        .await
        .map_err(|e| format!("no body: {e}"))?;
    Ok((response.status().as_u16(), body.to_vec()))
}

/// What is wrong with an answer, if anything.
fn judge(req: &Request, status: u16, body: &[u8]) -> Option<String> {
    if status >= 500 {
        return Some(format!("answered {status}"));
    }
    if status < 400 || req.method == Method::HEAD {
        return None;
    }
    let shaped = serde_json::from_slice::<Value>(body).ok().is_some_and(|v| {
        v["error"]["code"].as_str().is_some_and(|c| !c.is_empty())
            && v["error"]["message"].is_string()
    });
    (!shaped).then(|| format!("answered {status} outside the error shape"))
}

fn describe(req: &Request, status: Option<u16>, body: &[u8], why: &str) -> String {
    let clip = |bytes: &[u8]| String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
    let (body_sent, answer) = (clip(&req.body), clip(body));
    format!(
        "{why}: {} {} headers {:?} body {body_sent:?} -> {status:?} {answer:?}",
        req.method, req.url, req.headers
    )
}

/// The bystander's ordinary requests, over and over until `stop`: every one must succeed.
async fn bystander(
    client: awc::Client,
    app_url: String,
    token: String,
    stop: Rc<Cell<bool>>,
    log: Rc<RefCell<Vec<Result<(), String>>>>,
) {
    let paths = [
        "/api/me",
        "/api/rooms",
        "/api/chat/chat_history?room=general&limit=20",
        "/api/chat/events?room=general",
    ];
    let mut i = 0;
    while !stop.get() {
        let path = paths[i % paths.len()];
        i += 1;
        let outcome = client
            .get(format!("{app_url}{path}"))
            .insert_header(("authorization", format!("Bearer {token}")))
            .timeout(REQUEST_TIMEOUT)
            .send()
            .await;
        let result = match outcome {
            Ok(mut response) => {
                let _ = response.body().limit(4 << 20).await;
                if response.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("{path}: {}", response.status()))
                }
            }
            Err(e) => Err(format!("{path}: no answer: {e}")),
        };
        log.borrow_mut().push(result);
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn fuzz(backend: Backend) {
    let seed = std::env::var("CHATAPP_HTTP_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().next_u64());
    let count: usize = std::env::var("CHATAPP_HTTP_FUZZ_REQUESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    println!(
        "http_fuzz ({backend:?}): seed {seed} (CHATAPP_HTTP_FUZZ_SEED={seed} repeats it), {count} requests"
    );

    let app = spawn_app(Role::All, backend).await;
    // The first account is the administrator.
    app.register("admin", "the admin's password").await;
    app.register("mallory", "mallory's password").await;
    app.register("bob", "bob's password").await;
    let tokens = Tokens {
        admin: app.login("admin", "the admin's password").await,
        member: app.login("mallory", "mallory's password").await,
    };
    let bob = app.login("bob", "bob's password").await;

    let stop = Rc::new(Cell::new(false));
    let bystanders = Rc::new(RefCell::new(Vec::new()));
    let watcher = actix_web::rt::spawn(bystander(
        app.client.clone(),
        app.address.clone(),
        bob,
        stop.clone(),
        bystanders.clone(),
    ));

    let mut rng = StdRng::seed_from_u64(seed);
    let requests: Vec<Request> = (0..count)
        .map(|_| request(&mut rng, &app, &tokens))
        .collect();
    let started = Instant::now();
    let client = app.client.clone();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut answers = futures_util::stream::iter(requests.iter())
        .map(|req| {
            let client = client.clone();
            async move { (req, send(&client, req).await) }
        })
        .buffer_unordered(IN_FLIGHT);
    let mut done = 0;
    while let Some((req, answer)) = answers.next().await {
        done += 1;
        match answer {
            Ok((status, body)) => {
                *statuses.entry(status).or_default() += 1;
                if let Some(why) = judge(req, status, &body) {
                    failures.push(describe(req, Some(status), &body, &why));
                }
            }
            Err(why) => failures.push(describe(req, None, &[], &why)),
        }
        if done % 500 == 0 {
            let (status, health) = app.get_json("/healthz").await;
            assert_eq!(status, 200, "unhealthy after {done} requests: {health}");
        }
    }
    drop(answers);
    let elapsed = started.elapsed();
    stop.set(true);
    let _ = watcher.await;

    let (status, health) = app.get_json("/healthz").await;
    let bystander_log = bystanders.take();
    let refused: Vec<&String> = bystander_log
        .iter()
        .filter_map(|r| r.as_ref().err())
        .collect();
    println!(
        "http_fuzz ({backend:?}): {count} requests in {:.1} s; statuses {statuses:?}; the bystander made {} requests, {} refused",
        elapsed.as_secs_f64(),
        bystander_log.len(),
        refused.len()
    );
    for failure in failures.iter().take(20) {
        println!("  {failure}");
    }
    assert!(
        failures.is_empty(),
        "{} of {count} fuzzed requests were answered wrongly (seed {seed}); the first: {}",
        failures.len(),
        failures[0]
    );
    assert_eq!(status, 200, "unhealthy after the fuzz: {health}");
    assert!(
        bystander_log.len() >= 10,
        "the bystander made only {} requests",
        bystander_log.len()
    );
    assert!(
        refused.is_empty(),
        "the bystander's ordinary requests failed during the fuzz (seed {seed}): {refused:?}"
    );
    app.stop().await;
}

/// Found by this fuzz on PostgreSQL, which refuses U+0000 in a query's text: a room name
/// or session id with a NUL answered 500. No room or session has one: 404.
async fn a_nul_in_a_name_finds_nothing(backend: Backend) {
    let app = spawn_app(Role::All, backend).await;
    app.register("ann", "ann's password").await;
    let token = app.login("ann", "ann's password").await;
    for path in [
        "/api/rooms/%00/members",
        "/api/rooms/gen%00eral/members",
        "/api/chat/chat_history?room=a%00b",
        "/api/chat/events?room=a%00b",
        "/api/presence?room=a%00b",
    ] {
        let (status, body) = app.get_with_token(path, &token).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (404, &json!("not_found")),
            "{path}: {body}"
        );
    }
    let delete = Method::DELETE;
    for path in ["/api/sessions/%00", "/api/rooms/%00/members/ann"] {
        let (status, body) = app
            .send_with_token(delete.clone(), path, &token, None)
            .await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (404, &json!("not_found")),
            "{path}: {body}"
        );
    }
    let add = json!({"username": "ann"});
    let (status, body) = app
        .post_with_token("/api/rooms/%00/members", &token, &add)
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("not_found")),
        "{body}"
    );
    app.stop().await;
}
crate::both_backends!(nul_in_names, a_nul_in_a_name_finds_nothing);

#[actix_web::test]
async fn the_rest_api_survives_malformed_requests_postgres() {
    fuzz(Backend::Postgres).await;
}

#[actix_web::test]
async fn the_rest_api_survives_malformed_requests_sqlite() {
    fuzz(Backend::Sqlite).await;
}
