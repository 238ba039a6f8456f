//! The WebSocket's defences: bad frames, rate limits, slow readers, silent peers.

use chatapp::server::Role;
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::chat::{chat, user};
use crate::helpers::{Backend, WsClient, spawn_app, spawn_app_with};

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

#[actix_web::test]
async fn browsers_from_other_origins_may_not_open_a_socket() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let app = spawn_app_with(Role::All, Backend::Sqlite, |s| {
        s.ws.allowed_origins = vec!["https://chat.example.com".into()];
    })
    .await;
    let token = user(&app, "olga").await;
    let url = format!(
        "{}/ws/chat?token={token}",
        app.address.replacen("http", "ws", 1)
    );
    let with_origin = |origin: &str| {
        let mut request = url.clone().into_client_request().expect("request");
        request
            .headers_mut()
            .insert("origin", origin.parse().expect("header"));
        request
    };
    let refused = tokio_tungstenite::connect_async(with_origin("https://evil.example")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 403);
        }
        other => panic!(
            "a foreign origin must be refused, got {:?}",
            other.map(|_| ())
        ),
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(with_origin("https://chat.example.com"))
        .await
        .expect("the allowed origin connects");
    ws.send(Message::Text(
        json!({"type": "join", "room": "general"})
            .to_string()
            .into(),
    ))
    .await
    .expect("join");
    app.stop().await;

    // With no list, only the page's own host may connect.
    let app = spawn_app(Role::All, Backend::Sqlite).await;
    let token = user(&app, "olga").await;
    let url = format!(
        "{}/ws/chat?token={token}",
        app.address.replacen("http", "ws", 1)
    );
    let mut request = url.clone().into_client_request().expect("request");
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().expect("header"));
    assert!(tokio_tungstenite::connect_async(request).await.is_err());
    let mut request = url.into_client_request().expect("request");
    request
        .headers_mut()
        .insert("origin", app.address.parse().expect("header"));
    assert!(
        tokio_tungstenite::connect_async(request).await.is_ok(),
        "same host is allowed"
    );
    app.stop().await;
}

/// Reads until the socket ends; the frames before, and how it ended.
async fn until_closed(ws: &mut WsClient) -> (Vec<serde_json::Value>, crate::helpers::Ended) {
    let mut frames = Vec::new();
    loop {
        match ws.next().await {
            Ok(frame) => frames.push(frame),
            Err(ended) => return (frames, ended),
        }
    }
}

#[actix_web::test]
async fn connections_are_capped_per_user_and_per_address() {
    use crate::helpers::Ended;
    let app = spawn_app_with(Role::All, Backend::Sqlite, |s| {
        s.ws.max_connections_per_user = 2;
        s.ws.max_connections_per_address = 3;
    })
    .await;
    let ann = user(&app, "ann").await;
    let bob = user(&app, "bob").await;
    let mut first = WsClient::connect(&app.address, &ann).await;
    first.join("general").await;
    let mut second = WsClient::connect(&app.address, &ann).await;
    second.join("general").await;
    // A third of ann's is told why and closed (1008).
    let mut third = WsClient::connect(&app.address, &ann).await;
    let (frames, ended) = until_closed(&mut third).await;
    assert_eq!(ended, Ended::Closed(Some(1008)));
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["code"], "rate_limited");
    // Bob, from the same address, may hold one: the address's third.
    let mut bobs = WsClient::connect(&app.address, &bob).await;
    bobs.join("general").await;
    let mut bobs_second = WsClient::connect(&app.address, &bob).await;
    assert_eq!(
        until_closed(&mut bobs_second).await.1,
        Ended::Closed(Some(1008))
    );
    // A connection that ends frees its place.
    second.close().await;
    let mut again = WsClient::connect(&app.address, &ann).await;
    again.join("general").await;
    first.send(chat("general", "still here", "c-1")).await;
    assert_eq!(first.recv_type("ack").await["seq"], 1);
    app.stop().await;
}

#[actix_web::test]
async fn pings_and_binary_frames_count_against_the_rate_limit() {
    let app = spawn_app_with(Role::All, Backend::Sqlite, |s| {
        s.ws.frames_per_second = 1;
        s.ws.burst = 5;
    })
    .await;
    let token = user(&app, "cat").await;
    for flood in [
        Message::Ping(vec![1u8].into()),
        Message::Binary(vec![1u8].into()),
    ] {
        let mut ws = WsClient::connect(&app.address, &token).await;
        // The burst, then twice the burst of limited frames: the next one closes it.
        for _ in 0..16 {
            ws.send_raw(flood.clone()).await;
        }
        let (_, ended) = until_closed(&mut ws).await;
        assert_eq!(
            ended,
            crate::helpers::Ended::Closed(Some(1008)),
            "{flood:?}"
        );
    }
    app.stop().await;
}

#[actix_web::test]
async fn a_typing_flood_reaches_the_room_once_a_second() {
    let app = spawn_app(Role::All, Backend::Sqlite).await;
    let typist = user(&app, "dee").await;
    let reader = user(&app, "eli").await;
    let mut t = WsClient::connect(&app.address, &typist).await;
    let mut r = WsClient::connect(&app.address, &reader).await;
    t.join("general").await;
    r.join("general").await;
    for _ in 0..50 {
        t.send(json!({"type": "typing", "room": "general"})).await;
    }
    // A chat after the flood marks its end: the reader saw one typing before it.
    t.send(chat("general", "done typing", "c-1")).await;
    let mut typing = 0;
    loop {
        let frame = r.recv().await;
        match frame["type"].as_str() {
            Some("typing") => typing += 1,
            Some("chat") => break,
            _ => {}
        }
    }
    assert_eq!(typing, 1);
    app.stop().await;
}
