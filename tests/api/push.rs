//! Web Push (issue 16, part 4): the VAPID key, subscriptions, notification levels, and
//! pushes delivered to a local push service that verifies and decrypts them as a push
//! service and a browser would (`helpers::PushReceiver`).

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use awc::http::Method;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chatapp::config::Settings;
use chatapp::domain::{NotifyLevel, RoomKind};
use chatapp::push::{Notification, PushService, Recipient};
use chatapp::server::Role;
use chatapp::storage::push as stored;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, Behaviour, Device, PushReceiver, TestApp, TestDb, spawn_app_with};

const PASSWORD: &str = "correct-horse-1";
const WAIT: Duration = Duration::from_secs(10);

/// Pushes may go to the local push service, over http, signed with a contact.
fn push_settings(s: &mut Settings) {
    s.push.allow_http = true;
    s.push.allowed_hosts = vec!["127.0.0.1".into()];
    s.push.subject = Some("mailto:ops@example.com".into());
    s.push.retry_base_ms = 100;
    s.push.timeout_secs = 2;
    s.push.ttl_secs = 600;
}

async fn app_with(backend: Backend, customize: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(Role::All, backend, |s| {
        push_settings(s);
        customize(s);
    })
    .await
}

/// A registered, signed-in user: (id, access token).
async fn user(app: &TestApp, name: &str) -> (i64, String) {
    let id = app.register(name, PASSWORD).await;
    (id, app.login(name, PASSWORD).await)
}

fn push(app: &TestApp) -> &PushService {
    app.push.as_ref().expect("front serves push")
}

/// A push service that knows the server's VAPID key.
async fn receiver_for(app: &TestApp, token: &str) -> PushReceiver {
    let receiver = PushReceiver::start().await;
    let (status, body) = app.get_with_token("/api/push/key", token).await;
    assert_eq!(status, 200, "{body}");
    receiver.expect_vapid_key(body["public_key"].as_str().expect("key"));
    receiver
}

/// Subscribes a new device of the receiver's as `name`, as a page would.
async fn subscribe(app: &TestApp, receiver: &PushReceiver, token: &str, name: &str) -> Device {
    let device = receiver.device(name);
    let (status, body) = app
        .post_with_token(
            "/api/push/subscriptions",
            token,
            &receiver.subscription(name, &device),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    device
}

/// A room made by `token`'s user: (id, name).
async fn room(app: &TestApp, token: &str, name: &str, kind: &str) -> (i64, String) {
    let (status, body) = app
        .post_with_token("/api/rooms", token, &json!({"name": name, "kind": kind}))
        .await;
    assert_eq!(status, 201, "{body}");
    (body["id"].as_i64().expect("id"), name.to_owned())
}

async fn direct(app: &TestApp, token: &str, with: &str) -> (i64, String) {
    let (status, body) = app
        .post_with_token("/api/dms", token, &json!({"users": [with]}))
        .await;
    assert_eq!(status, 201, "{body}");
    (
        body["id"].as_i64().expect("id"),
        body["name"].as_str().expect("name").to_owned(),
    )
}

async fn set_level(app: &TestApp, token: &str, room: &str, level: &str) -> (u16, Value) {
    app.send_with_token(
        Method::PUT,
        &format!("/api/rooms/{room}/notify"),
        token,
        Some(&json!({"level": level})),
    )
    .await
}

fn stored_subscriptions(app: &TestApp, user_ids: &[i64]) -> Vec<stored::Subscription> {
    let db = app.db.as_ref().expect("database").pool(1);
    let mut conn = db.get().expect("connection");
    stored::subscriptions_of(&mut conn, user_ids).expect("subscriptions")
}

fn endpoints(app: &TestApp, user_id: i64) -> BTreeSet<String> {
    stored_subscriptions(app, &[user_id])
        .into_iter()
        .map(|s| s.endpoint)
        .collect()
}

/// The value of a series on `/metrics` whose line holds every one of `labels`.
async fn metric(app: &TestApp, name: &str, labels: &[&str]) -> f64 {
    let (status, text) = app.get_text("/metrics").await;
    assert_eq!(status, 200);
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|label| l.contains(label)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn wait_for_metric(app: &TestApp, name: &str, labels: &[&str], value: f64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let now = metric(app, name, labels).await;
        if now == value {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name}{labels:?} is {now}, waited for {value}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

fn mention(user_id: i64) -> Vec<Recipient> {
    vec![Recipient {
        user_id,
        mentioned: true,
    }]
}

fn message(room: &(i64, String), kind: RoomKind, sender: &str, text: &str) -> Notification {
    Notification::message(room.0, &room.1, kind, sender, text)
}

/// The key is made on the first start and kept in the database: a restart with another
/// data directory signs with the same key, two processes starting at once on a fresh
/// database agree on one, and another database has another.
async fn the_vapid_key_is_made_once_and_kept(backend: Backend) {
    let first = app_with(backend, |_| {}).await;
    let (status, body) = first.get_json("/api/push/key").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (_, token) = user(&first, "alice").await;
    let (status, body) = first.get_with_token("/api/push/key", &token).await;
    assert_eq!(status, 200, "{body}");
    let key = body["public_key"].as_str().expect("key").to_owned();
    let point = URL_SAFE_NO_PAD.decode(&key).expect("base64url");
    assert_eq!((point.len(), point[0]), (65, 4), "an uncompressed point");
    assert!(p256::PublicKey::from_sec1_bytes(&point).is_ok());

    let url = first.db.as_ref().expect("db").url.clone();
    first.stop().await;
    let second = app_with(backend, |s| s.database.url = Some(SecretString::from(url))).await;
    let token = second.login("alice", PASSWORD).await;
    let (_, body) = second.get_with_token("/api/push/key", &token).await;
    assert_eq!(body["public_key"], key, "the same key after a restart");

    let fresh = TestDb::empty(backend);
    let (a, b) = (fresh.migrated(2), fresh.pool(2));
    let settings = Settings::default();
    let (r1, r2) = (prometheus::Registry::new(), prometheus::Registry::new());
    let (one, two) = tokio::join!(
        PushService::start(a, &settings.push, &r1),
        PushService::start(b, &settings.push, &r2),
    );
    let (one, two) = (one.expect("one"), two.expect("two"));
    assert_eq!(one.public_key(), two.public_key());
    assert_ne!(one.public_key(), key);
}

both_backends!(vapid_key, the_vapid_key_is_made_once_and_kept);

/// Subscribing checks every part, the same endpoint again updates (and changes hands),
/// a user keeps a bounded number, and only the owner removes one.
async fn subscriptions_are_checked_kept_and_removed(backend: Backend) {
    let app = app_with(backend, |s| s.push.max_subscriptions_per_user = 3).await;
    let (alice_id, alice) = user(&app, "alice").await;
    let (bob_id, bob) = user(&app, "bob").await;
    let receiver = PushReceiver::start().await;
    let device = receiver.device("a1");
    let good = receiver.subscription("a1", &device);

    let (status, body, _) = app.post_json("/api/push/subscriptions", &good).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (401, &json!("unauthorized"))
    );

    let keys = &good["keys"];
    let endpoint = &good["endpoint"];
    let short_auth = URL_SAFE_NO_PAD.encode([1u8; 15]);
    let compressed = URL_SAFE_NO_PAD.encode({
        let mut p = URL_SAFE_NO_PAD.decode(device.p256dh()).expect("b64");
        p.truncate(33);
        p[0] = 2;
        p
    });
    for (body, field) in [
        (json!({"keys": keys}), "endpoint"),
        (
            json!({"endpoint": "https://push.example.org/x", "keys": keys}),
            "endpoint",
        ),
        (
            json!({"endpoint": "ftp://127.0.0.1/x", "keys": keys}),
            "endpoint",
        ),
        (json!({"endpoint": "not a url", "keys": keys}), "endpoint"),
        (json!({"endpoint": endpoint}), "keys"),
        (
            json!({"endpoint": endpoint, "keys": {"auth": keys["auth"]}}),
            "keys.p256dh",
        ),
        (
            json!({"endpoint": endpoint, "keys": {"p256dh": compressed, "auth": keys["auth"]}}),
            "keys.p256dh",
        ),
        (
            json!({"endpoint": endpoint, "keys": {"p256dh": "%%%", "auth": keys["auth"]}}),
            "keys.p256dh",
        ),
        (
            json!({"endpoint": endpoint, "keys": {"p256dh": keys["p256dh"]}}),
            "keys.auth",
        ),
        (
            json!({"endpoint": endpoint, "keys": {"p256dh": keys["p256dh"], "auth": short_auth}}),
            "keys.auth",
        ),
    ] {
        let (status, answer) = app
            .post_with_token("/api/push/subscriptions", &alice, &body)
            .await;
        assert_eq!(status, 422, "{body} → {answer}");
        assert_eq!(answer["error"]["code"], "invalid_field");
        assert_eq!(answer["error"]["field"], field, "{body}");
    }
    assert!(endpoints(&app, alice_id).is_empty());

    let (status, body) = app
        .post_with_token("/api/push/subscriptions", &alice, &good)
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["endpoint"], receiver.endpoint("a1"));
    // The browser renewed its keys: the same endpoint is updated, not added.
    let renewed_keys = Device::new();
    let renewed = receiver.subscription("a1", &renewed_keys);
    let (status, _) = app
        .post_with_token("/api/push/subscriptions", &alice, &renewed)
        .await;
    assert_eq!(status, 200);
    let rows = stored_subscriptions(&app, &[alice_id]);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].p256dh.as_str(), rows[0].auth.as_str()),
        (renewed_keys.p256dh().as_str(), renewed_keys.auth().as_str())
    );
    // Bob signs in on the same browser and subscribes it: it is his now, not also hers.
    let (status, _) = app
        .post_with_token("/api/push/subscriptions", &bob, &renewed)
        .await;
    assert_eq!(status, 200);
    assert!(endpoints(&app, alice_id).is_empty());
    assert_eq!(
        endpoints(&app, bob_id),
        BTreeSet::from([receiver.endpoint("a1")])
    );

    // At most 3 each: the oldest make room.
    for n in 1..=4 {
        let name = format!("alice-{n}");
        let (status, _) = app
            .post_with_token(
                "/api/push/subscriptions",
                &alice,
                &receiver.subscription(&name, &Device::new()),
            )
            .await;
        assert_eq!(status, 201);
    }
    assert_eq!(
        endpoints(&app, alice_id),
        (2..=4)
            .map(|n| receiver.endpoint(&format!("alice-{n}")))
            .collect()
    );

    // Only the owner removes one.
    let gone = |endpoint: String| json!({"endpoint": endpoint});
    let (status, _) = app
        .send_with_token(
            Method::DELETE,
            "/api/push/subscriptions",
            &alice,
            Some(&gone(receiver.endpoint("a1"))),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(endpoints(&app, bob_id).len(), 1);
    let (status, _) = app
        .send_with_token(
            Method::DELETE,
            "/api/push/subscriptions",
            &bob,
            Some(&gone(receiver.endpoint("a1"))),
        )
        .await;
    assert_eq!(status, 204);
    assert!(endpoints(&app, bob_id).is_empty());
    let (status, _) = app
        .send_with_token(
            Method::DELETE,
            "/api/push/subscriptions",
            &bob,
            Some(&gone(receiver.endpoint("a1"))),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = app
        .send_with_token(
            Method::DELETE,
            "/api/push/subscriptions",
            &bob,
            Some(&json!({})),
        )
        .await;
    assert_eq!((status, &body["error"]["field"]), (422, &json!("endpoint")));
}

both_backends!(subscriptions, subscriptions_are_checked_kept_and_removed);

/// A member's level per room: `mentions` by default, `all` in a direct room, changed by
/// members only, and readable in bulk by `levels_of` / `room_levels`.
async fn levels_are_chosen_per_room_by_members(backend: Backend) {
    let app = app_with(backend, |_| {}).await;
    let (alice_id, alice) = user(&app, "alice").await;
    let (bob_id, bob) = user(&app, "bob").await;
    let team = room(&app, &alice, "team", "public").await;
    let secret = room(&app, &alice, "secret", "private").await;
    let dm = direct(&app, &alice, "bob").await;

    let get = |token: &str, room: &str| {
        let (token, path) = (token.to_owned(), format!("/api/rooms/{room}/notify"));
        let app = &app;
        async move { app.get_with_token(&path, &token).await }
    };
    assert_eq!(
        get(&alice, "team").await,
        (200, json!({"room": "team", "level": "mentions"}))
    );
    assert_eq!(get(&alice, &dm.1).await.1["level"], "all");
    assert_eq!(
        set_level(&app, &alice, "team", "all").await,
        (200, json!({"room": "team", "level": "all"}))
    );
    assert_eq!(get(&alice, "team").await.1["level"], "all");
    let (status, body) = set_level(&app, &alice, "team", "loud").await;
    assert_eq!((status, &body["error"]["field"]), (422, &json!("level")));

    // Bob sees the public room but is not in it; the private one does not exist for him.
    assert_eq!(get(&bob, "team").await.0, 403);
    assert_eq!(set_level(&app, &bob, "team", "none").await.0, 403);
    assert_eq!(set_level(&app, &bob, "secret", "none").await.0, 404);
    assert_eq!(set_level(&app, &bob, "nowhere", "none").await.0, 404);
    assert_eq!(set_level(&app, &bob, &dm.1, "none").await.0, 200);
    assert_eq!(get(&bob, &dm.1).await.1["level"], "none");
    assert_eq!(
        get(&alice, &dm.1).await.1["level"],
        "all",
        "levels are per member"
    );

    let db = app.db.as_ref().expect("db").pool(1);
    let mut conn = db.get().expect("connection");
    assert_eq!(
        stored::levels_of(&mut conn, alice_id, &[team.0, secret.0, dm.0]).expect("levels"),
        HashMap::from([(team.0, NotifyLevel::All)])
    );
    assert_eq!(
        stored::room_levels(&mut conn, dm.0, &[alice_id, bob_id]).expect("levels"),
        HashMap::from([(bob_id, NotifyLevel::None)])
    );
}

both_backends!(levels, levels_are_chosen_per_room_by_members);

/// A mention and a direct message reach every browser of the recipient, signed and
/// encrypted, with the right content; a room set to `none`, and a message that does not
/// mention them where they chose `mentions`, do not.
async fn pushes_reach_the_browsers_that_want_them(backend: Backend) {
    let app = app_with(backend, |_| {}).await;
    let (alice_id, alice) = user(&app, "alice").await;
    let (_, bob) = user(&app, "bob").await;
    let receiver = receiver_for(&app, &alice).await;
    subscribe(&app, &receiver, &alice, "alice-phone").await;
    subscribe(&app, &receiver, &alice, "alice-laptop").await;
    let team = room(&app, &alice, "team", "public").await;
    let quiet = room(&app, &alice, "quiet", "public").await;
    let dm = direct(&app, &bob, "alice").await;
    assert_eq!(set_level(&app, &alice, "quiet", "none").await.0, 200);
    let push = push(&app);
    let not_mentioned = vec![Recipient {
        user_id: alice_id,
        mentioned: false,
    }];

    assert!(push.notify(
        mention(alice_id),
        message(&quiet, RoomKind::Public, "bob", "@alice in quiet")
    ));
    assert!(push.notify(
        not_mentioned.clone(),
        message(&team, RoomKind::Public, "bob", "not for alice")
    ));
    assert!(push.notify(
        mention(alice_id),
        message(
            &team,
            RoomKind::Public,
            "bob",
            "hey @alice,\n the build is green"
        )
    ));
    receiver
        .wait_until("both devices have the mention", WAIT, |r| {
            r.received().len() == 2
        })
        .await;
    // The queue is worked in order: the first two were decided before this one was sent.
    for got in receiver.received() {
        assert_eq!(
            got.payload,
            json!({"room": "team", "sender": "bob", "title": "bob in #team",
                "body": "hey @alice, the build is green", "url": "/home?room=team",
                "tag": "room:team"})
        );
        assert_eq!(got.urgency.as_deref(), Some("high"));
        assert_eq!(got.ttl, 600);
        assert_eq!(got.sub, "mailto:ops@example.com");
    }
    let devices: BTreeSet<_> = receiver.received().into_iter().map(|r| r.device).collect();
    assert_eq!(
        devices,
        BTreeSet::from(["alice-laptop".into(), "alice-phone".into()])
    );

    // A direct message needs no mention; `all` takes what is not a mention, less urgently.
    assert!(push.notify(
        not_mentioned.clone(),
        message(&dm, RoomKind::Direct, "bob", "psst")
    ));
    receiver
        .wait_until("the direct message arrives", WAIT, |r| {
            r.received().len() == 4
        })
        .await;
    let got = &receiver.received()[3];
    assert_eq!(got.payload["title"], "bob");
    assert_eq!(got.payload["url"], format!("/home?room={}", dm.1));
    assert_eq!(got.urgency.as_deref(), Some("high"));
    assert_eq!(set_level(&app, &alice, "team", "all").await.0, 200);
    assert!(push.notify(
        not_mentioned,
        message(&team, RoomKind::Public, "bob", "fyi")
    ));
    receiver
        .wait_until("the room set to all is heard", WAIT, |r| {
            r.received().len() == 6
        })
        .await;
    let got = &receiver.received()[5];
    assert_eq!(got.payload["body"], "fyi");
    assert_eq!(got.urgency.as_deref(), Some("normal"));
    assert!(receiver.rejected().is_empty(), "{:?}", receiver.rejected());
    assert_eq!(metric(&app, "chatapp_push_sent_total", &[]).await, 6.0);
}

both_backends!(delivery, pushes_reach_the_browsers_that_want_them);

/// 404 and 410 from the push service: the subscription is forgotten and never tried again.
async fn an_endpoint_that_is_gone_is_forgotten(backend: Backend) {
    let app = app_with(backend, |_| {}).await;
    let (alice_id, alice) = user(&app, "alice").await;
    let receiver = receiver_for(&app, &alice).await;
    for name in ["expired", "unknown", "working"] {
        subscribe(&app, &receiver, &alice, name).await;
    }
    receiver.behave("expired", Behaviour::Status(410, None));
    receiver.behave("unknown", Behaviour::Status(404, None));
    let general = (1, "general".to_owned());
    let push = push(&app);

    assert!(push.notify(
        mention(alice_id),
        message(&general, RoomKind::Public, "bob", "one")
    ));
    receiver
        .wait_until("every endpoint was tried", WAIT, |r| {
            r.received_by("working").len() == 1
                && r.attempts("expired").len() == 1
                && r.attempts("unknown").len() == 1
        })
        .await;
    wait_for_metric(&app, "chatapp_push_expired_total", &[], 2.0).await;
    assert_eq!(
        endpoints(&app, alice_id),
        BTreeSet::from([receiver.endpoint("working")])
    );

    assert!(push.notify(
        mention(alice_id),
        message(&general, RoomKind::Public, "bob", "two")
    ));
    receiver
        .wait_until("the second push arrives", WAIT, |r| {
            r.received_by("working").len() == 2
        })
        .await;
    assert_eq!(receiver.attempts("expired").len(), 1);
    assert_eq!(receiver.attempts("unknown").len(), 1);
}

both_backends!(gone, an_endpoint_that_is_gone_is_forgotten);

/// A push service that keeps failing gets `push.attempts` tries, spaced by a doubling
/// wait (or the `Retry-After` it asks for), then none; other users' pushes meanwhile go
/// out at once.
#[actix_web::test]
async fn a_failing_push_service_is_retried_a_bounded_number_of_times() {
    let app = app_with(Backend::Sqlite, |s| {
        s.push.attempts = 3;
        s.push.retry_base_ms = 500;
    })
    .await;
    let (alice_id, alice) = user(&app, "alice").await;
    let (bob_id, bob) = user(&app, "bob").await;
    let (carol_id, carol) = user(&app, "carol").await;
    let receiver = receiver_for(&app, &alice).await;
    subscribe(&app, &receiver, &alice, "failing").await;
    subscribe(&app, &receiver, &bob, "bob").await;
    subscribe(&app, &receiver, &carol, "busy").await;
    receiver.behave("failing", Behaviour::Status(500, None));
    receiver.behave("busy", Behaviour::Status(503, Some(1)));
    let general = (1, "general".to_owned());
    let push = push(&app);

    assert!(push.notify(
        mention(alice_id),
        message(&general, RoomKind::Public, "x", "a")
    ));
    assert!(push.notify(
        mention(bob_id),
        message(&general, RoomKind::Public, "x", "b")
    ));
    receiver
        .wait_until("bob's push arrives", WAIT, |r| {
            r.received_by("bob").len() == 1
        })
        .await;
    assert!(
        receiver.attempts("failing").len() < 3,
        "bob's push waited for alice's retries"
    );

    receiver
        .wait_until("three tries", WAIT, |r| r.attempts("failing").len() == 3)
        .await;
    wait_for_metric(&app, "chatapp_push_failed_total", &[], 1.0).await;
    let at = receiver.attempts("failing");
    assert!(
        at[1] - at[0] >= Duration::from_millis(480),
        "{:?}",
        at[1] - at[0]
    );
    assert!(
        at[2] - at[1] >= Duration::from_millis(980),
        "{:?}",
        at[2] - at[1]
    );
    assert_eq!(metric(&app, "chatapp_push_retries_total", &[]).await, 2.0);
    // A fourth try would come 2 s after the third.
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(receiver.attempts("failing").len(), 3);

    // 503 with Retry-After: 1 → the next try a second later, not after 500 ms.
    assert!(push.notify(
        mention(carol_id),
        message(&general, RoomKind::Public, "x", "c")
    ));
    receiver
        .wait_until("carol's first try", WAIT, |r| r.attempts("busy").len() == 1)
        .await;
    receiver.behave("busy", Behaviour::Accept);
    receiver
        .wait_until("carol's push arrives", WAIT, |r| {
            r.received_by("busy").len() == 1
        })
        .await;
    let at = receiver.attempts("busy");
    assert_eq!(at.len(), 2);
    assert!(
        at[1] - at[0] >= Duration::from_millis(980),
        "{:?}",
        at[1] - at[0]
    );
}

/// A push service that does not answer costs only its own pushes: they time out, one at a
/// time, at most `push.per_endpoint` waiting (the rest dropped), while another user's push
/// goes out at once.
#[actix_web::test]
async fn a_slow_push_service_delays_no_one_else() {
    let app = app_with(Backend::Sqlite, |s| {
        s.push.timeout_secs = 1;
        s.push.attempts = 2;
        s.push.concurrency = 2;
        s.push.per_endpoint = 2;
    })
    .await;
    let (alice_id, alice) = user(&app, "alice").await;
    let (bob_id, bob) = user(&app, "bob").await;
    let receiver = receiver_for(&app, &alice).await;
    subscribe(&app, &receiver, &alice, "hanging").await;
    subscribe(&app, &receiver, &bob, "bob").await;
    receiver.behave("hanging", Behaviour::Slow(Duration::from_secs(4)));
    let general = (1, "general".to_owned());
    let push = push(&app);

    for n in 0..5 {
        assert!(push.notify(
            mention(alice_id),
            message(&general, RoomKind::Public, "x", &format!("{n}"))
        ));
    }
    assert!(push.notify(
        mention(bob_id),
        message(&general, RoomKind::Public, "x", "b")
    ));
    receiver
        .wait_until("bob's push arrives", WAIT, |r| {
            r.received_by("bob").len() == 1
        })
        .await;
    // Alice's first request still hangs and her next waits its turn: both request slots
    // did not go to her (then bob's would have waited for a time-out).
    assert_eq!(receiver.attempts("hanging").len(), 1);
    assert_eq!(receiver.in_flight("hanging"), 1);
    wait_for_metric(
        &app,
        "chatapp_push_dropped_total",
        &["reason=\"endpoint_backlog\""],
        3.0,
    )
    .await;
    // Two pushes kept, two tries each, each cut off after a second.
    wait_for_metric(&app, "chatapp_push_failed_total", &[], 2.0).await;
    assert_eq!(receiver.attempts("hanging").len(), 4);
}

/// A full queue drops notifications at once, counted, while the push service hangs: the
/// caller (the message path) never waits.
#[actix_web::test]
async fn a_full_queue_drops_and_never_waits() {
    let app = app_with(Backend::Sqlite, |s| {
        s.push.queue = 2;
        s.push.pending = 1;
        s.push.timeout_secs = 5;
    })
    .await;
    let (alice_id, alice) = user(&app, "alice").await;
    let receiver = receiver_for(&app, &alice).await;
    subscribe(&app, &receiver, &alice, "hanging").await;
    receiver.behave("hanging", Behaviour::Slow(Duration::from_secs(3)));
    let general = (1, "general".to_owned());
    let push = push(&app);

    let started = Instant::now();
    let accepted = (0..200)
        .filter(|n| {
            push.notify(
                mention(alice_id),
                message(&general, RoomKind::Public, "x", &n.to_string()),
            )
        })
        .count();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(500), "notify waited: {took:?}");
    // The queue (2), the one the worker holds waiting for room, the one being sent.
    assert!((2..=4).contains(&accepted), "{accepted} accepted");
    wait_for_metric(
        &app,
        "chatapp_push_dropped_total",
        &["reason=\"queue_full\""],
        (200 - accepted) as f64,
    )
    .await;
}

/// The receiver is a real peer: it decrypts RFC 8291's own example, and refuses a push it
/// cannot decrypt (keys that are not the subscription's) or whose VAPID key is not the one
/// it expects.
#[actix_web::test]
async fn the_receiver_refuses_what_it_cannot_verify_or_decrypt() {
    let rfc_device = Device::from_parts(
        &URL_SAFE_NO_PAD
            .decode("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94")
            .expect("b64"),
        &URL_SAFE_NO_PAD
            .decode("BTBZMqHH6r4Tts7J_aSIgg")
            .expect("b64"),
    );
    assert_eq!(
        rfc_device.p256dh(),
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
    );
    let body = URL_SAFE_NO_PAD
        .decode("DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN")
        .expect("b64");
    assert_eq!(
        rfc_device.decrypt(&body).as_deref(),
        Ok(&b"When I grow up, I want to be a watermelon"[..])
    );
    let mut tampered = body.clone();
    tampered[100] ^= 1;
    assert!(rfc_device.decrypt(&tampered).is_err());
    assert!(Device::new().decrypt(&body).is_err());

    let app = app_with(Backend::Sqlite, |_| {}).await;
    let (alice_id, alice) = user(&app, "alice").await;
    let receiver = receiver_for(&app, &alice).await;
    subscribe(&app, &receiver, &alice, "phone").await;
    // The service now holds other keys for that endpoint than the server encrypted for.
    receiver.set_device_keys("phone", &Device::new());
    let general = (1, "general".to_owned());
    let push = push(&app);
    assert!(push.notify(
        mention(alice_id),
        message(&general, RoomKind::Public, "x", "a")
    ));
    receiver
        .wait_until("the push is refused", WAIT, |r| r.rejected().len() == 1)
        .await;
    assert_eq!(receiver.rejected()[0].1, 400);
    assert!(receiver.received().is_empty());

    let other = Device::new();
    receiver.expect_vapid_key(&other.p256dh());
    receiver.set_device_keys("phone", &other);
    assert!(push.notify(
        mention(alice_id),
        message(&general, RoomKind::Public, "x", "b")
    ));
    receiver
        .wait_until("the push is refused", WAIT, |r| r.rejected().len() == 2)
        .await;
    assert_eq!(receiver.rejected()[1].1, 403);
    assert!(receiver.received().is_empty());
    wait_for_metric(&app, "chatapp_push_failed_total", &[], 2.0).await;
}
