//! Real-time chat over real sockets: acks after storage, broadcasts, idempotent resends,
//! presence, typing, bad frames, many clients, slow readers.

use std::collections::HashMap;

use chatapp::server::Role;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, Ended, TestApp, WsClient, spawn_app, spawn_app_with};

pub async fn user(app: &TestApp, name: &str) -> String {
    app.register(name, &format!("{name}'s password")).await;
    app.login(name, &format!("{name}'s password")).await
}

pub fn chat(room: &str, content: &str, client_id: &str) -> Value {
    json!({"type": "chat", "room": room, "content": content, "client_id": client_id})
}

pub async fn history_of(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    history(app, token, query).await
}

async fn history(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let (status, body) = app
        .get_with_token(&format!("/api/chat/chat_history?{query}"), token)
        .await;
    assert_eq!(status, 200, "{body}");
    body["messages"].as_array().expect("messages").clone()
}

async fn ack_then_broadcast(backend: Backend) {
    let app = spawn_app(Role::All, backend).await;
    let alice_token = user(&app, "alice").await;
    let bob_token = user(&app, "bob").await;
    let mut alice = WsClient::connect(&app.address, &alice_token).await;
    let mut bob = WsClient::connect(&app.address, &bob_token).await;
    alice.join("general").await;
    bob.join("general").await;
    assert_eq!(alice.recv_type("join").await["sender"], "bob");

    // The sender field is ignored: the token says who sends.
    let mut frame = chat("general", "  hello, world  ", "c-1");
    frame["sender"] = json!("mallory");
    alice.send(frame).await;
    let ack = alice.recv().await;
    assert_eq!(ack["type"], "ack", "{ack}");
    assert_eq!(ack["client_id"], "c-1");
    assert_eq!(ack["seq"], 1);
    assert_eq!(ack["room"], "general");
    let own = alice.recv().await;
    let seen = bob.recv_type("chat").await;
    for got in [&own, &seen] {
        assert_eq!(got["type"], "chat");
        assert_eq!(got["id"], ack["id"]);
        assert_eq!(got["seq"], 1);
        assert_eq!(got["sender"], "alice");
        assert_eq!(got["content"], "hello, world");
        assert_eq!(got["client_id"], "c-1");
        assert_eq!(got["timestamp"], ack["timestamp"]);
    }

    // The same client id again: acked with the original, stored and broadcast once.
    alice.send(chat("general", "hello again?", "c-1")).await;
    let again = alice.recv().await;
    assert_eq!(
        (
            again["type"].clone(),
            again["id"].clone(),
            again["seq"].clone()
        ),
        (json!("ack"), ack["id"].clone(), json!(1))
    );
    alice.send(chat("general", "second", "c-2")).await;
    assert_eq!(alice.recv().await["seq"], 2);
    assert_eq!(alice.recv().await["content"], "second");
    let next = bob.recv_type("chat").await;
    assert_eq!(
        (next["seq"].clone(), next["content"].clone()),
        (json!(2), json!("second"))
    );

    let stored = history(&app, &bob_token, "room=general").await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0]["sender"], "alice");
    assert_eq!(stored[0]["content"], "hello, world");
    assert_eq!(stored[1]["seq"], 2);
    app.stop().await;
}
both_backends!(acked_after_storage_then_broadcast, ack_then_broadcast);

#[actix_web::test]
async fn bad_tokens_close_with_4401() {
    let app = spawn_app(Role::All, Backend::Sqlite).await;
    let token = user(&app, "carol").await;
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    for bad in ["", "garbage", tampered.as_str()] {
        let mut client = WsClient::connect(&app.address, bad).await;
        assert_eq!(
            client.next().await,
            Err(Ended::Closed(Some(4401))),
            "token {bad:?}"
        );
    }
    // A session token is not an access token.
    let (_, body, _) = app
        .post_json(
            "/auth/api/login",
            &json!({"username": "carol", "password": "carol's password", "session": true}),
        )
        .await;
    let session = body["session_token"].as_str().expect("session token");
    let mut client = WsClient::connect(&app.address, session).await;
    assert_eq!(client.next().await, Err(Ended::Closed(Some(4401))));
    app.stop().await;
}

#[actix_web::test]
async fn presence_is_per_user_across_connections() {
    let app = spawn_app(Role::All, Backend::Sqlite).await;
    let frank = user(&app, "frank").await;
    let grace = user(&app, "grace").await;
    let mut f1 = WsClient::connect(&app.address, &frank).await;
    let presence = f1.join("general").await;
    assert_eq!(presence["action"], "online_users");
    assert_eq!(presence["users"], json!(["frank"]));

    let mut g1 = WsClient::connect(&app.address, &grace).await;
    assert_eq!(g1.join("general").await["users"], json!(["frank", "grace"]));
    assert_eq!(
        f1.recv().await,
        json!({"type": "join", "room": "general", "sender": "grace"})
    );
    // Grace's second connection: no second join event, grace listed once.
    let mut g2 = WsClient::connect(&app.address, &grace).await;
    assert_eq!(g2.join("general").await["users"], json!(["frank", "grace"]));
    let (status, body) = app
        .get_with_token("/api/presence?room=general", &frank)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"room": "general", "users": ["frank", "grace"]})
    );

    // Typing reaches the others, not the typist's own connections.
    g1.send(json!({"type": "typing", "room": "general"})).await;
    assert_eq!(
        f1.recv().await,
        json!({"type": "typing", "room": "general", "sender": "grace"})
    );

    // Leaving with one connection of two: still online. Disconnecting the last: leave.
    g1.send(json!({"type": "leave", "room": "general"})).await;
    g2.close().await;
    assert_eq!(
        f1.recv().await,
        json!({"type": "leave", "room": "general", "sender": "grace"})
    );
    let (_, body) = app
        .get_with_token("/api/presence?room=general", &frank)
        .await;
    assert_eq!(body["users"], json!(["frank"]));
    let (status, _) = app
        .get_with_token("/api/presence?room=nowhere", &frank)
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}

/// Every client sends `each` messages to `general` at once; each must receive every
/// message exactly once, in seq order (1..=clients × each), and an ack for each of its own.
pub async fn everyone_sends(clients: Vec<WsClient>, each: usize) -> Vec<WsClient> {
    let total = clients.len() * each;
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut ws)| {
            actix_web::rt::spawn(async move {
                for n in 0..each {
                    ws.send(chat("general", &format!("m{i}-{n}"), &format!("c{n}")))
                        .await;
                }
                let (mut seqs, mut acks) = (Vec::new(), 0);
                while seqs.len() < total || acks < each {
                    let frame = ws.recv().await;
                    match frame["type"].as_str() {
                        Some("chat") => seqs.push(frame["seq"].as_i64().expect("seq")),
                        Some("ack") => acks += 1,
                        Some("join" | "presence" | "leave" | "typing") => {}
                        _ => panic!("unexpected frame {frame}"),
                    }
                }
                (seqs, acks, ws)
            })
        })
        .collect();
    let expected: Vec<i64> = (1..=total as i64).collect();
    let mut kept = Vec::new();
    for task in tasks {
        let (seqs, acks, ws) = task.await.expect("client task");
        assert_eq!(acks, each);
        assert_eq!(seqs, expected, "every message exactly once, in seq order");
        kept.push(ws);
    }
    kept
}

async fn twenty_clients_fifty_messages_each(backend: Backend) {
    const CLIENTS: usize = 20;
    const EACH: usize = 50;
    let app = spawn_app(Role::All, backend).await;
    let mut tokens = Vec::new();
    for i in 0..CLIENTS {
        tokens.push(user(&app, &format!("member{i}")).await);
    }
    let mut clients = Vec::new();
    for token in &tokens {
        let mut ws = WsClient::connect(&app.address, token).await;
        ws.join("general").await;
        clients.push(ws);
    }
    let _kept = everyone_sends(clients, EACH).await;
    let expected: Vec<i64> = (1..=(CLIENTS * EACH) as i64).collect();
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = history(
            &app,
            &tokens[0],
            &format!("room=general&after={after}&limit=200"),
        )
        .await;
        let Some(last) = page.last() else { break };
        after = last["seq"].as_i64().expect("seq");
        all.extend(page.iter().map(|m| m["seq"].as_i64().expect("seq")));
    }
    assert_eq!(all, expected, "history holds 1..=1000");
    app.stop().await;
}
both_backends!(
    twenty_clients_times_fifty,
    twenty_clients_fifty_messages_each
);

/// Rooms are spread over several save lanes (PostgreSQL stores one batch per lane at a
/// time; SQLite has one lane): every client, in every room at once, sends to each room in
/// turn; each must receive every room's messages exactly once and in that room's seq order
/// (1..=clients × each per room), and an ack for each of its own.
async fn many_rooms_over_save_lanes(backend: Backend) {
    const CLIENTS: usize = 8;
    const ROOMS: usize = 6;
    const EACH: usize = 30;
    let app = spawn_app_with(Role::All, backend, |s| s.ws.save_lanes = 3).await;
    let mut tokens = Vec::new();
    for i in 0..CLIENTS {
        tokens.push(user(&app, &format!("lane{i}")).await);
    }
    let rooms: Vec<String> = (0..ROOMS).map(|r| format!("lane-room-{r}")).collect();
    for room in &rooms {
        let mut request = app
            .client
            .post(app.url("/api/rooms"))
            .insert_header(("Authorization", format!("Bearer {}", tokens[0])));
        request = request.content_type("application/json");
        let response = request
            .send_body(json!({ "name": room }).to_string())
            .await
            .expect("create room");
        assert_eq!(response.status().as_u16(), 201);
    }
    let mut clients = Vec::new();
    for token in &tokens {
        let mut ws = WsClient::connect(&app.address, token).await;
        for room in &rooms {
            ws.join(room).await;
        }
        clients.push(ws);
    }
    let total = CLIENTS * EACH;
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut ws)| {
            let rooms = rooms.clone();
            actix_web::rt::spawn(async move {
                for n in 0..EACH {
                    let room = &rooms[(i + n) % ROOMS];
                    ws.send(chat(room, &format!("m{i}-{n}"), &format!("c{n}")))
                        .await;
                }
                let mut seqs: HashMap<String, Vec<i64>> = HashMap::new();
                let (mut received, mut acks) = (0, 0);
                while received < total || acks < EACH {
                    let frame = ws.recv().await;
                    match frame["type"].as_str() {
                        Some("chat") => {
                            received += 1;
                            let room = frame["room"].as_str().expect("room").to_owned();
                            seqs.entry(room)
                                .or_default()
                                .push(frame["seq"].as_i64().expect("seq"));
                        }
                        Some("ack") => acks += 1,
                        Some("join" | "presence" | "leave" | "typing") => {}
                        _ => panic!("unexpected frame {frame}"),
                    }
                }
                (seqs, acks)
            })
        })
        .collect();
    // Client i sends its n-th message to room (i + n) % ROOMS, so every room gets
    // CLIENTS × EACH / ROOMS messages.
    let per_room = (CLIENTS * EACH / ROOMS) as i64;
    let expected: Vec<i64> = (1..=per_room).collect();
    for task in tasks {
        let (seqs, acks) = task.await.expect("client task");
        assert_eq!(acks, EACH);
        assert_eq!(seqs.len(), ROOMS, "messages from every room");
        for (room, got) in &seqs {
            assert_eq!(got, &expected, "{room}: every message once, in seq order");
        }
    }
    app.stop().await;
}
both_backends!(many_rooms_over_lanes, many_rooms_over_save_lanes);

/// A token that outlived its account (the database was replaced, the signing key kept):
/// its messages are refused with `forbidden` (also when its id now belongs to someone
/// else), and nothing of anyone else's is lost with them, though both are stored in the
/// same moment.
async fn a_sender_without_an_account_is_refused_alone(backend: Backend) {
    use chatapp::tokens::load_signing_key;
    use jsonwebtoken::{Algorithm, Header};

    use crate::auth::{claims_for, now, sign};

    let app = spawn_app(Role::All, backend).await;
    let alice_token = user(&app, "alice").await;
    let pair = load_signing_key(&app.data_dir.path().join("jwt_ed25519.pem")).expect("key");
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(pair.key_id());
    let ghost_token = sign(
        &pair,
        &header,
        &claims_for(987_654, "ghost", "chatapp:access", now() + 600),
    );
    // After a database is replaced, a stale token's id can belong to someone new.
    let bob_id = app.register("bob", "bob's password").await;
    let impostor_token = sign(
        &pair,
        &header,
        &claims_for(bob_id, "mallory", "chatapp:access", now() + 600),
    );
    let mut alice = WsClient::connect(&app.address, &alice_token).await;
    alice.join("general").await;
    // Neither may subscribe: the tokens name no account of theirs.
    let mut ghost = WsClient::connect(&app.address, &ghost_token).await;
    ghost.send(json!({"type": "join", "room": "general"})).await;
    assert_eq!(ghost.recv().await["code"], "forbidden");
    let mut impostor = WsClient::connect(&app.address, &impostor_token).await;
    impostor
        .send(json!({"type": "join", "room": "general"}))
        .await;
    assert_eq!(impostor.recv().await["code"], "forbidden");
    impostor.send(chat("general", "it's me", "i0")).await;
    let refused = impostor.recv_type("error").await;
    assert_eq!(
        (refused["code"].as_str(), refused["client_id"].as_str()),
        (Some("forbidden"), Some("i0")),
        "{refused}"
    );

    for n in 0..20 {
        ghost
            .send(chat("general", &format!("boo {n}"), &format!("g{n}")))
            .await;
        alice
            .send(chat("general", &format!("hello {n}"), &format!("a{n}")))
            .await;
    }
    for n in 0..20 {
        let refused = ghost.recv_type("error").await;
        assert_eq!(refused["code"], "forbidden", "{refused}");
        assert_eq!(refused["client_id"], format!("g{n}"), "{refused}");
    }
    let mut acks = Vec::new();
    while acks.len() < 20 {
        acks.push(alice.recv_type("ack").await["seq"].as_i64().expect("seq"));
    }
    assert_eq!(acks, (1..=20).collect::<Vec<i64>>());
    let stored = history(&app, &alice_token, "room=general&limit=100").await;
    let senders: Vec<&str> = stored
        .iter()
        .map(|m| m["sender"].as_str().expect("sender"))
        .collect();
    assert_eq!(senders, vec!["alice"; 20]);
    app.stop().await;
}
both_backends!(
    sender_without_account,
    a_sender_without_an_account_is_refused_alone
);
