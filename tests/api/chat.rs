//! Real-time chat over real sockets: acks after storage, broadcasts, idempotent resends,
//! presence, typing, bad frames, many clients, slow readers.

use chatapp::server::Role;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::both_backends;
use crate::helpers::{Backend, Ended, TestApp, WsClient, spawn_app, spawn_app_with};

async fn user(app: &TestApp, name: &str) -> String {
    app.register(name, &format!("{name}'s password")).await;
    app.login(name, &format!("{name}'s password")).await
}

fn chat(room: &str, content: &str, client_id: &str) -> Value {
    json!({"type": "chat", "room": room, "content": content, "client_id": client_id})
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
async fn bad_frames_get_errors_and_the_connection_stays_usable() {
    let app = spawn_app(Role::All, Backend::Sqlite).await;
    let token = user(&app, "dave").await;
    let mut ws = WsClient::connect(&app.address, &token).await;
    let cases: Vec<(Message, &str)> = vec![
        (Message::Text("not json".into()), "bad_request"),
        (Message::Text(r#"{"type":"dance"}"#.into()), "bad_request"),
        (Message::Text(r#"{"type":"join"}"#.into()), "bad_request"),
        (
            Message::Text(r#"{"type":"join","room":"Bad Name"}"#.into()),
            "bad_request",
        ),
        (
            Message::Text(r#"{"type":"join","room":"nowhere"}"#.into()),
            "not_found",
        ),
        (
            Message::Text(r#"{"type":"typing","room":"general"}"#.into()),
            "forbidden",
        ),
        (
            Message::Text(
                r#"{"type":"chat","room":"general","content":"   ","client_id":"x"}"#.into(),
            ),
            "bad_request",
        ),
        (
            Message::Text(
                json!({"type":"chat","room":"general","content":"x".repeat(4001),"client_id":"y"})
                    .to_string()
                    .into(),
            ),
            "too_large",
        ),
        (
            Message::Text(
                json!({"type":"chat","room":"general","content":"hi","client_id":"z".repeat(65)})
                    .to_string()
                    .into(),
            ),
            "bad_request",
        ),
        (
            Message::Text(
                json!({"type":"chat","room":"nowhere","content":"hi","client_id":"n1"})
                    .to_string()
                    .into(),
            ),
            "not_found",
        ),
        (
            Message::Text(
                json!({"type":"chat","room":"general","content":"x".repeat(40_000)})
                    .to_string()
                    .into(),
            ),
            "too_large",
        ),
        (Message::Binary(vec![1u8, 2, 3].into()), "bad_request"),
    ];
    for (message, code) in cases {
        let shown = format!("{message:?}").chars().take(80).collect::<String>();
        ws.send_raw(message).await;
        let reply = ws.recv().await;
        assert_eq!(reply["type"], "error", "{shown}: {reply}");
        assert_eq!(reply["code"], code, "{shown}: {reply}");
        assert!(reply["message"].is_string());
    }
    ws.join("general").await;
    ws.send(chat("general", "still here", "ok-1")).await;
    assert_eq!(ws.recv().await["type"], "ack");
    app.stop().await;
}

#[actix_web::test]
async fn too_many_frames_are_rate_limited_without_closing() {
    let app = spawn_app_with(Role::All, Backend::Sqlite, |s| {
        s.ws.frames_per_second = 1;
        s.ws.burst = 5;
    })
    .await;
    let token = user(&app, "erin").await;
    let mut ws = WsClient::connect(&app.address, &token).await;
    for _ in 0..5 {
        ws.send(json!({"type": "leave", "room": "general"})).await;
    }
    ws.send(json!({"type": "leave", "room": "general"})).await;
    let reply = ws.recv().await;
    assert_eq!(
        (reply["type"].clone(), reply["code"].clone()),
        (json!("error"), json!("rate_limited"))
    );
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
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut ws)| {
            actix_web::rt::spawn(async move {
                for n in 0..EACH {
                    ws.send(chat("general", &format!("m{i}-{n}"), &format!("c{n}")))
                        .await;
                }
                let mut seqs = Vec::new();
                let mut acks = 0;
                while seqs.len() < CLIENTS * EACH || acks < EACH {
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
    let expected: Vec<i64> = (1..=(CLIENTS * EACH) as i64).collect();
    let mut kept = Vec::new();
    for task in tasks {
        let (seqs, acks, ws) = task.await.expect("client task");
        assert_eq!(acks, EACH);
        assert_eq!(seqs, expected, "every message exactly once, in seq order");
        kept.push(ws);
    }
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

#[actix_web::test]
async fn a_reader_that_stops_reading_is_dropped_without_holding_up_others() {
    const MESSAGES: usize = 1500;
    let app = spawn_app_with(Role::All, Backend::Sqlite, |s| {
        s.ws.queue = 16;
        s.ws.frames_per_second = 100_000;
        s.ws.burst = 100_000;
    })
    .await;
    let sender_token = user(&app, "henry").await;
    let slow_token = user(&app, "ivy").await;
    let reader_token = user(&app, "jack").await;

    // The slow client joins and then never reads again.
    let mut slow = WsClient::connect(&app.address, &slow_token).await;
    slow.join("general").await;
    let mut reader = WsClient::connect(&app.address, &reader_token).await;
    reader.join("general").await;
    // The sender does not join, so all it gets back are its acks, which it reads.
    let mut sender = WsClient::connect(&app.address, &sender_token).await;
    let big = "x".repeat(4000);
    let send_task = actix_web::rt::spawn(async move {
        for n in 0..MESSAGES {
            sender
                .send(chat("general", &big, &format!("big-{n}")))
                .await;
            assert_eq!(sender.recv().await["type"], "ack");
        }
        sender
    });
    let mut got = 0;
    let mut last_seq = 0;
    while got < MESSAGES {
        let frame = reader.recv().await;
        if frame["type"] == "chat" {
            let seq = frame["seq"].as_i64().expect("seq");
            assert_eq!(seq, last_seq + 1, "in order, nothing skipped");
            last_seq = seq;
            got += 1;
        }
    }
    let _sender = send_task.await.expect("sender");
    let (_, metrics) = app.get_text("/metrics").await;
    let closed = metrics
        .lines()
        .find(|l| l.starts_with("chatapp_ws_slow_closed_total"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .expect("slow-close counter");
    assert!(
        closed >= 1.0,
        "the slow reader must have been closed: {closed}"
    );
    drop(slow);
    app.stop().await;
}

#[actix_web::test]
async fn a_peer_that_stops_answering_pings_is_dropped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(Role::All, Backend::Sqlite, |s| {
        s.ws.heartbeat_secs = 1;
        s.ws.client_timeout_secs = 2;
    })
    .await;
    let token = user(&app, "kate").await;
    // A raw socket: it completes the handshake, then reads but never answers a ping.
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let handshake = format!(
        "GET /ws/chat?token={token} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(handshake.as_bytes())
        .await
        .expect("handshake");
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let ended = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the server must close a silent peer");
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    // Pings (opcode 0x9) came first, then a close frame (0x8) with code 1001 (0x03e9).
    let body = &received[text.find("\r\n\r\n").expect("headers end") + 4..];
    assert!(
        body.windows(2).any(|w| w == [0x89, 0x00]),
        "a ping was sent"
    );
    assert!(
        body.windows(4).any(|w| w == [0x88, 0x02, 0x03, 0xe9]),
        "closed with 1001: {body:?}"
    );
    app.stop().await;
}
