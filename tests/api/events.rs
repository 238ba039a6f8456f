//! Room events: the gapless events feed, frames refused at the door without failing anyone
//! else's, server-assigned client ids.

use chatapp::server::Role;
use serde_json::{Value, json};

use crate::both_backends;
use crate::chat::{chat, user};
use crate::helpers::{Backend, TestApp, WsClient, spawn_app};

async fn feed(app: &TestApp, token: &str, query: &str) -> (u16, Value) {
    app.get_with_token(&format!("/api/chat/events?{query}"), token)
        .await
}

/// Every event of a room through the feed, page by page, as a client catches up.
async fn all_events(app: &TestApp, token: &str, room: &str, limit: usize) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let (status, page) = feed(
            app,
            token,
            &format!("room={room}&after={after}&limit={limit}"),
        )
        .await;
        assert_eq!(status, 200, "{page}");
        let got = page["events"].as_array().expect("events").clone();
        if got.is_empty() {
            assert_eq!(page["last_seq"], after, "caught up to the room's last seq");
            return events;
        }
        assert!(got.len() <= limit);
        after = got.last().expect("one")["seq"].as_i64().expect("seq");
        events.extend(got);
    }
}

async fn a_nul_message_beside_an_ordinary_one(backend: Backend) {
    let app = spawn_app(Role::All, backend).await;
    let (ann_token, bob_token) = (user(&app, "ann").await, user(&app, "bob").await);
    let mut ann = WsClient::connect(&app.address, &ann_token).await;
    let mut bob = WsClient::connect(&app.address, &bob_token).await;
    ann.join("general").await;
    bob.join("general").await;
    // Sent at the same moment, so that they would share a batch.
    ann.send(chat("general", "bad\u{0}byte", "n-1")).await;
    bob.send(chat("general", "ordinary", "o-1")).await;
    let refused = ann.recv_type("error").await;
    assert_eq!(
        (refused["code"].clone(), refused["client_id"].clone()),
        (json!("bad_request"), json!("n-1")),
        "{refused}"
    );
    let ack = bob.recv_type("ack").await;
    assert_eq!(
        (ack["client_id"].clone(), ack["seq"].clone()),
        (json!("o-1"), json!(1))
    );
    for client in [&mut ann, &mut bob] {
        let got = client.recv_type("chat").await;
        assert_eq!(
            (got["content"].clone(), got["seq"].clone()),
            (json!("ordinary"), json!(1))
        );
    }
    // A NUL in the client id is refused too, and the connection stays usable.
    ann.send(chat("general", "fine", "bad\u{0}id")).await;
    assert_eq!(ann.recv_type("error").await["code"], "bad_request");
    ann.send(chat("general", "fine", "n-2")).await;
    assert_eq!(ann.recv_type("ack").await["seq"], 2);
    app.stop().await;
}
both_backends!(nul_beside_ordinary, a_nul_message_beside_an_ordinary_one);

async fn the_feed_is_gapless_after_a_mixed_load(backend: Backend) {
    let app = spawn_app(Role::All, backend).await;
    let (token_a, token_b) = (user(&app, "amy").await, user(&app, "ben").await);
    let mut a = WsClient::connect(&app.address, &token_a).await;
    let mut b = WsClient::connect(&app.address, &token_b).await;
    a.join("general").await;
    b.join("general").await;
    // Mixed: two senders, resends of one client id, a refused frame, one without client id.
    for i in 0..20 {
        a.send(chat("general", &format!("a{i}"), &format!("a-{i}")))
            .await;
        b.send(chat("general", &format!("b{i}"), &format!("b-{i}")))
            .await;
        if i % 5 == 0 {
            a.send(chat("general", "again", &format!("a-{i}"))).await;
            b.send(chat("general", "\u{0}", &format!("z-{i}"))).await;
        }
    }
    b.send(json!({"type": "chat", "room": "general", "content": "no id"}))
        .await;
    let mut acks_a = 0;
    while acks_a < 24 {
        if a.recv().await["type"] == "ack" {
            acks_a += 1;
        }
    }
    let mut assigned = None;
    let mut acks_b = 0;
    while acks_b < 21 {
        let frame = b.recv().await;
        if frame["type"] == "ack" {
            acks_b += 1;
            if acks_b == 21 {
                assigned = frame["client_id"].as_str().map(str::to_owned);
            }
        }
    }
    let assigned = assigned.expect("an id assigned at the door");
    assert!(assigned.starts_with("srv-"), "{assigned}");

    let events = all_events(&app, &token_a, "general", 7).await;
    let seqs: Vec<i64> = events
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(
        seqs,
        (1..=41).collect::<Vec<_>>(),
        "every acked event once, no gap"
    );
    assert!(
        events
            .iter()
            .all(|e| e["type"] == "chat" && e["room"] == "general")
    );
    let no_id: Vec<&Value> = events.iter().filter(|e| e["content"] == "no id").collect();
    assert_eq!(no_id.len(), 1);
    assert_eq!(no_id[0]["client_id"], json!(assigned));
    // The feed's event is the frame that announced it.
    let seq = no_id[0]["seq"].as_i64().expect("seq");
    let (_, page) = feed(
        &app,
        &token_b,
        &format!("room=general&after={}&limit=1", seq - 1),
    )
    .await;
    assert_eq!(page["last_seq"], 41);
    let announced = loop {
        let frame = b.recv().await;
        if frame["type"] == "chat" && frame["seq"] == seq {
            break frame;
        }
    };
    assert_eq!(page["events"][0], announced);
    app.stop().await;
}
both_backends!(gapless_feed, the_feed_is_gapless_after_a_mixed_load);

#[actix_web::test]
async fn the_feed_refuses_bad_parameters() {
    let app = spawn_app(Role::All, Backend::Sqlite).await;
    let token = user(&app, "cid").await;
    let (status, page) = feed(&app, &token, "room=general").await;
    assert_eq!(status, 200);
    assert_eq!(
        page,
        json!({"room": "general", "events": [], "last_seq": 0})
    );
    for (query, code) in [
        ("room=general&limit=0", 422),
        ("room=general&limit=501", 422),
        ("room=general&after=-1", 422),
        ("room=general&after=x", 422),
        ("limit=5", 422),
        ("room=nowhere", 404),
    ] {
        let (status, body) = feed(&app, &token, query).await;
        assert_eq!(status, code, "{query}: {body}");
        assert!(body["error"]["code"].is_string(), "{body}");
    }
    let (status, _) = app.get_json("/api/chat/events?room=general").await;
    assert_eq!(status, 401);
    app.stop().await;
}

#[actix_web::test]
async fn a_stopping_node_answers_every_write_it_took_before_closing() {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, RunQueryDsl};
    let app = spawn_app(Role::All, Backend::Postgres).await;
    let token = user(&app, "dee").await;
    let mut client = WsClient::connect(&app.address, &token).await;
    client.join("general").await;
    let url = app.db.as_ref().expect("database").url.clone();
    let mut locker = diesel::PgConnection::establish(&url).expect("connect");
    let mut watcher = diesel::PgConnection::establish(&url).expect("connect");
    locker
        .batch_execute("BEGIN; LOCK TABLE messages IN ACCESS EXCLUSIVE MODE")
        .expect("lock");
    client.send(chat("general", "held", "d-1")).await;
    #[derive(diesel::QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let waiting = |watcher: &mut diesel::PgConnection| {
        diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .get_result::<Waiting>(watcher)
        .expect("pg_stat_activity")
        .n
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while waiting(&mut watcher) < 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the save never started"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    // SIGTERM's stop, while the write is stored: it stops taking writes first.
    let handle = app.handle();
    let stopping = actix_web::rt::spawn({
        let handle = handle.clone();
        async move { handle.stop().await }
    });
    while !handle.stopping() {
        assert!(std::time::Instant::now() < deadline, "the stop never began");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    client.send(chat("general", "too late", "d-2")).await;
    let refused = client.recv_type("error").await;
    assert_eq!(
        (refused["code"].clone(), refused["client_id"].clone()),
        (json!("not_saved"), json!("d-2"))
    );
    locker.batch_execute("COMMIT").expect("unlock");

    // The write it took is answered and announced, then the socket closes with 1012.
    let mut frames = Vec::new();
    let ended = loop {
        match client.next().await {
            Ok(frame) => frames.push(frame),
            Err(ended) => break ended,
        }
    };
    assert_eq!(
        ended,
        crate::helpers::Ended::Closed(Some(1012)),
        "{frames:?}"
    );
    let kinds: Vec<(Value, Value)> = frames
        .iter()
        .filter(|f| f["type"] != "presence")
        .map(|f| (f["type"].clone(), f["client_id"].clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![(json!("ack"), json!("d-1")), (json!("chat"), json!("d-1"))]
    );
    stopping.await.expect("stopped");
}

#[actix_web::test]
async fn a_join_that_cannot_be_checked_is_unavailable_not_missing() {
    use chatapp::tokens::{KeyPair, TokenKind, TokenSigner};
    let pair = KeyPair::generate().expect("key pair");
    let keys = tempfile::tempdir().expect("dir");
    let (_, public) = pair.write_to(keys.path(), false).expect("write keys");
    // A ws node whose front does not answer (the helper's default front_url).
    let app = crate::helpers::spawn_app_with(Role::Ws, Backend::Sqlite, move |s| {
        s.jwt.public_key_file = Some(public);
    })
    .await;
    let issuer = chatapp::config::Settings::default().jwt.issuer;
    let signer = TokenSigner::new(&pair, &issuer).expect("signer");
    let token = signer
        .issue(TokenKind::Access, 1, "eve", 300)
        .expect("token");
    let mut client = WsClient::connect(&app.address, &token).await;
    client
        .send(json!({"type": "join", "room": "general"}))
        .await;
    let refused = client.recv().await;
    assert_eq!(
        (refused["type"].clone(), refused["code"].clone()),
        (json!("error"), json!("unavailable")),
        "{refused}"
    );
    // The connection stays usable.
    client.send(json!({"type": "join", "room": "Bad"})).await;
    assert_eq!(client.recv().await["code"], "bad_request");
    app.stop().await;
}

async fn deletes_are_room_events_and_take_the_content(backend: Backend) {
    let app = spawn_app(Role::All, backend).await;
    let admin_token = user(&app, "root1").await; // the first account: the administrator
    let (amy_token, ben_token) = (user(&app, "amy").await, user(&app, "ben").await);
    let mut admin = WsClient::connect(&app.address, &admin_token).await;
    let mut amy = WsClient::connect(&app.address, &amy_token).await;
    let mut ben = WsClient::connect(&app.address, &ben_token).await;
    for client in [&mut admin, &mut amy, &mut ben] {
        client.join("general").await;
    }
    amy.send(chat("general", "oops", "m-1")).await;
    let id = amy.recv_type("ack").await["id"].clone();
    ben.send(chat("general", "mine", "m-2")).await;
    let ben_id = ben.recv_type("ack").await["id"].clone();
    let delete = |id: &Value, client_id: Option<&str>| {
        let mut frame = json!({"type": "delete", "room": "general", "id": id});
        if let Some(cid) = client_id {
            frame["client_id"] = json!(cid);
        }
        frame
    };
    // Without a client id, or someone else's message as a member: refused.
    ben.send(delete(&id, None)).await;
    assert_eq!(ben.recv_type("error").await["code"], "bad_request");
    ben.send(delete(&id, Some("d-0"))).await;
    let refused = ben.recv_type("error").await;
    assert_eq!(
        (refused["code"].clone(), refused["client_id"].clone()),
        (json!("forbidden"), json!("d-0"))
    );
    // The sender deletes her own; an administrator deletes anyone's.
    amy.send(delete(&id, Some("d-1"))).await;
    let ack = amy.recv_type("ack").await;
    assert_eq!(
        (ack["client_id"].clone(), ack["seq"].clone()),
        (json!("d-1"), json!(3))
    );
    let told = ben.recv_type("delete").await;
    assert_eq!(
        (
            told["seq"].clone(),
            told["id"].clone(),
            told["sender"].clone()
        ),
        (json!(3), id.clone(), json!("amy"))
    );
    admin.send(delete(&ben_id, Some("d-2"))).await;
    assert_eq!(admin.recv_type("ack").await["seq"], 4);
    // A retry of a delete: acked with the original, stored once.
    amy.send(delete(&id, Some("d-1"))).await;
    assert_eq!(amy.recv_type("ack").await["seq"], 3);

    let history = crate::chat::history_of(&app, &amy_token, "room=general").await;
    for message in &history {
        assert_eq!(
            (message["deleted"].clone(), message["content"].clone()),
            (json!(true), json!(""))
        );
    }
    let events = all_events(&app, &amy_token, "general", 200).await;
    let kinds: Vec<(&str, i64)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().expect("type"),
                e["seq"].as_i64().expect("seq"),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![("chat", 1), ("chat", 2), ("delete", 3), ("delete", 4)]
    );
    assert_eq!(
        events[0]["content"], "",
        "the content is gone from the feed too"
    );
    assert_eq!(events[2], told);
    app.stop().await;
}
both_backends!(deletes, deletes_are_room_events_and_take_the_content);
