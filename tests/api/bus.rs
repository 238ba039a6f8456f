//! Several `ws` nodes over a real Redis: users on different nodes chat as if on one, and a
//! Redis restart mid-chat loses nothing that was acknowledged.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chatapp::server::Role;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, ChatappProcess, Ended, OwnRedis, TestApp, WsClient, chatapp_cmd, free_port,
    spawn_app_with,
};

const SERVICE: &str = "bus-test-service-credential-0123";
static CHANNEL: AtomicUsize = AtomicUsize::new(0);

fn redis_url() -> String {
    std::env::var("CHATAPP_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn new_channel() -> String {
    format!(
        "chatapp-test-{}-{}",
        std::process::id(),
        CHANNEL.fetch_add(1, Ordering::SeqCst)
    )
}

/// An `all` node (front, auth, ws) on the bus.
async fn all_node(redis: &str, channel: &str, presence_ttl_secs: u64) -> TestApp {
    let (url, ch) = (redis.to_owned(), channel.to_owned());
    spawn_app_with(Role::All, Backend::Sqlite, move |s| {
        s.bus.redis_url = Some(SecretString::from(url));
        s.bus.channel = ch;
        s.bus.presence_ttl_secs = presence_ttl_secs;
        s.internal.token = Some(SecretString::from(SERVICE));
    })
    .await
}

/// Node A is `all` (front, auth, ws); node B is a `ws` storing through A's front. Both on
/// one Redis channel of their own.
async fn two_nodes(redis: &str) -> (TestApp, TestApp) {
    let channel = new_channel();
    let a = all_node(redis, &channel, 30).await;
    let public = a.data_dir.path().join("jwt_ed25519.pub.pem");
    let (url, front) = (redis.to_owned(), a.address.clone());
    let b = spawn_app_with(Role::Ws, Backend::Sqlite, move |s| {
        s.bus.redis_url = Some(SecretString::from(url));
        s.bus.channel = channel;
        s.ws.front_url = Some(front);
        s.internal.token = Some(SecretString::from(SERVICE));
        s.jwt.public_key_file = Some(public);
    })
    .await;
    for node in [&a, &b] {
        wait_for_bus(node, "ok").await;
    }
    (a, b)
}

/// Waits (bounded) until the node's `/healthz` reports the bus as `state`.
async fn wait_for_bus(node: &TestApp, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = node.get_json("/healthz").await;
        if body["checks"]["bus"] == state {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the bus never became {state}: {body}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn chats(ws: &mut WsClient, n: usize) -> Vec<Value> {
    let mut got = Vec::new();
    while got.len() < n {
        let frame = ws.recv().await;
        if frame["type"] == "chat" {
            got.push(frame);
        }
    }
    got
}

fn chat(content: &str, cid: &str) -> Value {
    json!({"type": "chat", "room": "general", "content": content, "client_id": cid})
}

#[actix_web::test]
async fn users_on_different_nodes_chat_as_if_on_one() {
    let (a, b) = two_nodes(&redis_url()).await;
    a.register("ann", "ann's password").await;
    a.register("ben", "ben's password").await;
    let ann_token = a.login("ann", "ann's password").await;
    let ben_token = a.login("ben", "ben's password").await;
    let mut ann = WsClient::connect(&a.address, &ann_token).await;
    let mut ben = WsClient::connect(&b.address, &ben_token).await;
    ann.join("general").await;
    ben.join("general").await;

    ann.send(chat("from node A", "a-1")).await;
    let got = chats(&mut ben, 1).await;
    assert_eq!(
        (got[0]["sender"].clone(), got[0]["seq"].clone()),
        (json!("ann"), json!(1))
    );
    ben.send(chat("from node B", "b-1")).await;
    assert_eq!(ben.recv_type("ack").await["seq"], 2);
    let on_a = chats(&mut ann, 2).await;
    let seqs: Vec<i64> = on_a
        .iter()
        .map(|f| f["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(
        seqs,
        vec![1, 2],
        "ann sees her own message and ben's, once each"
    );
    assert_eq!(on_a[1]["content"], "from node B");

    // Typing crosses nodes too.
    ben.send(json!({"type": "typing", "room": "general"})).await;
    assert_eq!(ann.recv_type("typing").await["sender"], "ben");
    a.stop().await;
    b.stop().await;
}

fn users(frame: &Value) -> Vec<&str> {
    frame["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

#[actix_web::test]
async fn users_on_different_nodes_see_each_others_presence() {
    let (a, b) = two_nodes(&redis_url()).await;
    for name in ["eve", "fay"] {
        a.register(name, "a long password").await;
    }
    let eve_token = a.login("eve", "a long password").await;
    let fay_token = a.login("fay", "a long password").await;
    let mut eve = WsClient::connect(&a.address, &eve_token).await;
    assert_eq!(users(&eve.join("general").await), vec!["eve"]);

    // fay joins on node B: she sees eve (on A), and eve hears of her.
    let mut fay = WsClient::connect(&b.address, &fay_token).await;
    assert_eq!(users(&fay.join("general").await), vec!["eve", "fay"]);
    let joined = eve.recv_type("join").await;
    assert_eq!(
        (joined["sender"].as_str(), joined["room"].as_str()),
        (Some("fay"), Some("general"))
    );
    let (status, body) = a
        .get_with_token("/api/presence?room=general", &eve_token)
        .await;
    assert_eq!((status, users(&body)), (200, vec!["eve", "fay"]));

    // A second connection of fay's, on node A, is no news to eve; fay leaving node B is
    // not either while that one stays. Her typing on A then reaches eve next.
    let mut fay_on_a = WsClient::connect(&a.address, &fay_token).await;
    assert_eq!(users(&fay_on_a.join("general").await), vec!["eve", "fay"]);
    fay.close().await;
    let mut fay_on_b = WsClient::connect(&b.address, &fay_token).await;
    assert_eq!(
        users(&fay_on_b.join("general").await),
        vec!["eve", "fay"],
        "node B sees fay's connection on A after hers on B closed"
    );
    fay_on_b.close().await;
    fay_on_a
        .send(json!({"type": "typing", "room": "general"}))
        .await;
    let next = eve.recv().await;
    assert_eq!(
        (next["type"].as_str(), next["sender"].as_str()),
        (Some("typing"), Some("fay")),
        "no leave for fay while she is still online on node A"
    );

    // Her last connection goes: eve hears it, and presence says so on both nodes.
    fay_on_a.close().await;
    assert_eq!(eve.recv_type("leave").await["sender"], "fay");
    let (_, body) = a
        .get_with_token("/api/presence?room=general", &eve_token)
        .await;
    assert_eq!(users(&body), vec!["eve"]);
    a.stop().await;
    b.stop().await;
}

#[actix_web::test]
async fn the_users_of_a_node_that_dies_do_not_stay_online() {
    let redis = redis_url();
    let channel = new_channel();
    let a = all_node(&redis, &channel, 1).await;
    wait_for_bus(&a, "ok").await;
    let dir = tempfile::tempdir().expect("dir");
    let mut cmd = chatapp_cmd(dir.path());
    cmd.args(["ws", "--bind", "127.0.0.1:0"])
        .env(
            "CHATAPP__JWT__PUBLIC_KEY_FILE",
            a.data_dir.path().join("jwt_ed25519.pub.pem"),
        )
        .env("CHATAPP__WS__FRONT_URL", &a.address)
        .env("CHATAPP__INTERNAL__TOKEN", SERVICE)
        .env("CHATAPP__BUS__REDIS_URL", &redis)
        .env("CHATAPP__BUS__CHANNEL", &channel)
        .env("CHATAPP__BUS__PRESENCE_TTL_SECS", "1");
    let b = ChatappProcess::start(cmd);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !bus_ok_at(&b.address).await {
        assert!(Instant::now() < deadline, "node B never joined the bus");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    a.register("gus", "a long password").await;
    a.register("hal", "a long password").await;
    let gus_token = a.login("gus", "a long password").await;
    let hal_token = a.login("hal", "a long password").await;
    let mut gus = WsClient::connect(&a.address, &gus_token).await;
    gus.join("general").await;
    let mut hal = WsClient::connect(&b.address, &hal_token).await;
    assert_eq!(users(&hal.join("general").await), vec!["gus", "hal"]);
    assert_eq!(gus.recv_type("join").await["sender"], "hal");

    // Node B is killed (no chance to say goodbye): its entries expire and gus hears that
    // hal left, within the TTL and a refresh.
    drop(b);
    let left = gus.recv_type("leave").await;
    assert_eq!(left["sender"], "hal");
    let (_, body) = a
        .get_with_token("/api/presence?room=general", &gus_token)
        .await;
    assert_eq!(users(&body), vec!["gus"], "no ghost");
    drop(hal);
    a.stop().await;
}

async fn bus_ok_at(base: &str) -> bool {
    let Ok(mut response) = awc::Client::default()
        .get(format!("{base}/healthz"))
        .send()
        .await
    else {
        return false;
    };
    let body: Value = response.json().await.unwrap_or_default();
    body["checks"]["bus"] == "ok"
}

#[actix_web::test]
async fn a_redis_restart_mid_chat_loses_nothing_acknowledged() {
    let port = free_port();
    let mut redis = OwnRedis::start(port);
    let (a, b) = two_nodes(&format!("redis://127.0.0.1:{port}")).await;
    a.register("cat", "cat's password").await;
    a.register("dan", "dan's password").await;
    let cat_token = a.login("cat", "cat's password").await;
    let dan_token = a.login("dan", "dan's password").await;
    let mut cat = WsClient::connect(&a.address, &cat_token).await;
    let mut dan = WsClient::connect(&b.address, &dan_token).await;
    cat.join("general").await;
    dan.join("general").await;
    cat.send(chat("before", "r-1")).await;
    assert_eq!(cat.recv_type("ack").await["seq"], 1);
    assert_eq!(chats(&mut cat, 1).await[0]["seq"], 1);
    assert_eq!(chats(&mut dan, 1).await[0]["seq"], 1);

    // Redis goes away: both nodes say degraded, and each still serves its own clients.
    redis.stop();
    wait_for_bus(&a, "down").await;
    let (status, body) = b.get_json("/healthz").await;
    assert_eq!((status, body["status"].clone()), (200, json!("degraded")));
    cat.send(chat("during", "r-2")).await;
    assert_eq!(
        cat.recv_type("ack").await["seq"],
        2,
        "still stored and acknowledged"
    );
    assert_eq!(
        chats(&mut cat, 1).await[0]["seq"],
        2,
        "local delivery goes on"
    );

    // Redis is back. What a node published while the other was not listening is gone
    // from the bus, so each node closes its sockets (1012) once it listens again: its
    // clients reconnect and catch up from the feed, where nothing acknowledged is missing.
    let _redis = OwnRedis::start(redis.port);
    wait_for_bus(&a, "ok").await;
    wait_for_bus(&b, "ok").await;
    assert_eq!(closed(cat).await, Some(1012), "cat is told to reconnect");
    assert_eq!(closed(dan).await, Some(1012), "dan is told to reconnect");
    let mut cat = WsClient::connect(&a.address, &cat_token).await;
    let mut dan = WsClient::connect(&b.address, &dan_token).await;
    cat.join("general").await;
    dan.join("general").await;
    let (status, feed) = a
        .get_with_token("/api/chat/events?room=general&after=1", &dan_token)
        .await;
    assert_eq!(status, 200);
    assert_eq!(feed["events"][0]["content"], "during", "{feed}");

    // Cross-node delivery resumes, nothing twice, nothing out of order: "during" waited
    // in node A's queue and is published late, so dan may hear it live too (if B listened
    // again by then), before "after".
    cat.send(chat("after", "r-3")).await;
    let mut seen = Vec::new();
    while seen.last() != Some(&3) {
        seen.push(chats(&mut dan, 1).await[0]["seq"].as_i64().expect("seq"));
    }
    assert!(seen == vec![3] || seen == vec![2, 3], "dan saw {seen:?}");
    let (status, page) = a
        .get_with_token("/api/chat/chat_history?room=general&after=1", &dan_token)
        .await;
    assert_eq!(status, 200);
    let contents: Vec<&str> = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert_eq!(
        contents,
        vec!["during", "after"],
        "nothing acknowledged was lost"
    );
    a.stop().await;
    b.stop().await;
}

/// Reads past any frames until the server closes the socket; answers its close code.
async fn closed(mut client: WsClient) -> Option<u16> {
    loop {
        match client.next().await {
            Ok(_) => continue,
            Err(Ended::Closed(code)) => return code,
            Err(Ended::TimedOut) => panic!("the socket stayed open"),
        }
    }
}

#[actix_web::test]
async fn both_nodes_deliver_every_message_once_in_seq_order() {
    const CLIENTS: usize = 20;
    const EACH: usize = 50;
    let (a, b) = two_nodes(&redis_url()).await;
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let token = crate::chat::user(&a, &format!("node-member{i}")).await;
        // Half on each node: every client receives messages stored by both.
        let node = if i % 2 == 0 { &a } else { &b };
        let mut ws = WsClient::connect(&node.address, &token).await;
        ws.join("general").await;
        clients.push(ws);
    }
    let _kept = crate::chat::everyone_sends(clients, EACH).await;
    a.stop().await;
    b.stop().await;
}

/// The Lua scripts publish presence news themselves (in the same step as the change); what
/// they publish must be the envelope the Rust side decodes.
#[actix_web::test]
async fn the_lua_scripts_publish_the_envelope_rust_decodes() {
    use chatapp::ws::bus::redis::envelope::{Presence, Topic, decode};
    use chatapp::ws::bus::redis::presence;
    use futures_util::StreamExt;
    let client = redis::Client::open(redis_url()).expect("redis url");
    let prefix = new_channel();
    let channel = format!("{prefix}:events");
    let mut pubsub = client.get_async_pubsub().await.expect("pubsub");
    pubsub.subscribe(&channel).await.expect("subscribe");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let (room, user, node) = ("general", "zoë.o-1", "node-a");
    let news: Vec<String> = presence::touch()
        .key(presence::room_key(&prefix, room))
        .key(presence::rooms_key(&prefix))
        .arg(node)
        .arg(&channel)
        .arg(60_000)
        .arg(room)
        .arg(user)
        .invoke_async(&mut conn)
        .await
        .expect("touch");
    assert_eq!(news, vec![user.to_owned()]);
    let gone: i64 = presence::drop_entry()
        .key(presence::room_key(&prefix, room))
        .arg(node)
        .arg(&channel)
        .arg(room)
        .arg(user)
        .invoke_async(&mut conn)
        .await
        .expect("drop");
    assert_eq!(gone, 1);
    let mut messages = pubsub.on_message();
    for kind in [Presence::Join, Presence::Leave] {
        let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("published")
            .expect("a message");
        let payload: String = message.get_payload().expect("text");
        let envelope = decode(&payload).expect("an envelope");
        assert_eq!(
            (envelope.node, envelope.room, envelope.topic),
            (node, room, Topic::Presence { kind, user })
        );
        let frame: Value = serde_json::from_str(envelope.json).expect("json");
        assert_eq!(
            frame,
            json!({"type": kind.as_str(), "room": room, "sender": user})
        );
    }
}

/// A session ended on node A's front closes the socket it opened on node B within 5 s, and
/// node B opens none with its access tokens afterwards (it heard of the end on the bus).
#[actix_web::test]
async fn an_ended_session_closes_its_sockets_on_every_node() {
    use crate::helpers::Ended;
    let (a, b) = two_nodes(&redis_url()).await;
    a.register("cal", "cal's password").await;
    let body = json!({"username": "cal", "password": "cal's password", "session": true});
    let (_, here, _) = a.post_json("/auth/api/login", &body).await;
    let (_, there, _) = a.post_json("/auth/api/login", &body).await;
    let here = here["access_token"].as_str().expect("token").to_owned();
    let there = there["access_token"].as_str().expect("token").to_owned();
    let mut socket = WsClient::connect(&b.address, &there).await;
    socket.join("general").await;

    let started = Instant::now();
    let (status, body) = a
        .send_with_token(awc::http::Method::DELETE, "/api/sessions", &here, None)
        .await;
    assert_eq!((status, body["ended"].clone()), (200, json!(1)));
    let ended = loop {
        match socket.next().await {
            Ok(_) => continue,
            Err(ended) => break ended,
        }
    };
    assert_eq!(ended, Ended::Closed(Some(4401)));
    assert!(started.elapsed() < Duration::from_secs(5));
    let mut again = WsClient::connect(&b.address, &there).await;
    assert_eq!(again.next().await, Err(Ended::Closed(Some(4401))));
    // The session that ended nothing else keeps its socket.
    let mut mine = WsClient::connect(&b.address, &here).await;
    mine.join("general").await;
    a.stop().await;
    b.stop().await;
}

/// Node B's connections to Redis go silent without closing (a proxy stops passing bytes but
/// keeps the sockets open, as a dead peer or a dropping network would). B notices within a
/// bounded time (`/healthz` says `degraded`, the bus `down`), reconnects, and its client misses nothing for
/// good: what was published during the silence is in the events feed, and what comes after
/// is delivered live again.
#[actix_web::test]
async fn a_silent_redis_connection_is_noticed_and_replaced() {
    use crate::helpers::StallingProxy;
    let redis = redis_url();
    let redis_addr = redis
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let proxy = StallingProxy::start(&redis_addr).await;
    let channel = new_channel();
    let a = all_node(&redis, &channel, 30).await;
    let public = a.data_dir.path().join("jwt_ed25519.pub.pem");
    let (via_proxy, front, ch) = (
        format!("redis://{}", proxy.address),
        a.address.clone(),
        channel.clone(),
    );
    let b = spawn_app_with(Role::Ws, Backend::Sqlite, move |s| {
        s.bus.redis_url = Some(SecretString::from(via_proxy));
        s.bus.channel = ch;
        s.ws.front_url = Some(front);
        s.internal.token = Some(SecretString::from(SERVICE));
        s.jwt.public_key_file = Some(public);
    })
    .await;
    for node in [&a, &b] {
        wait_for_bus(node, "ok").await;
    }
    a.register("ida", "ida's password").await;
    a.register("jay", "jay's password").await;
    let ida_token = a.login("ida", "ida's password").await;
    let jay_token = a.login("jay", "jay's password").await;
    let mut ida = WsClient::connect(&a.address, &ida_token).await;
    let mut jay = WsClient::connect(&b.address, &jay_token).await;
    ida.join("general").await;
    jay.join("general").await;
    ida.send(chat("before", "i-1")).await;
    assert_eq!(ida.recv_type("ack").await["seq"], 1);
    assert_eq!(chats(&mut jay, 1).await[0]["seq"], 1);

    proxy.stall();
    let stalled = Instant::now();
    ida.send(chat("during", "i-2")).await;
    assert_eq!(ida.recv_type("ack").await["seq"], 2);
    // `/healthz` answers `degraded` with the bus `down`.
    wait_for_bus(&b, "down").await;
    let noticed = stalled.elapsed();
    let (_, health) = b.get_json("/healthz").await;
    assert_eq!(health["status"], "degraded");
    proxy.resume();
    wait_for_bus(&b, "ok").await;
    let recovered = stalled.elapsed();
    eprintln!("silent Redis: noticed after {noticed:?}, bus ok again after {recovered:?}");
    assert!(noticed < Duration::from_secs(25), "{noticed:?}");

    // B was not listening while A published "during": it closes its sockets once it
    // listens again, and jay reconnects, catches up and then hears A live again.
    assert_eq!(closed(jay).await, Some(1012), "jay is told to reconnect");
    let mut jay = WsClient::connect(&b.address, &jay_token).await;
    jay.join("general").await;
    ida.send(chat("after", "i-3")).await;
    let live = chats(&mut jay, 1).await;
    assert_eq!(
        (live[0]["seq"].clone(), live[0]["content"].clone()),
        (json!(3), json!("after"))
    );
    // The catch-up jay's client makes: the one sent during the silence is in the feed.
    let (status, feed) = a
        .get_with_token("/api/chat/events?room=general&after=1", &jay_token)
        .await;
    assert_eq!(status, 200);
    let contents: Vec<&str> = feed["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["content"].as_str())
        .collect();
    assert_eq!(contents, vec!["during", "after"], "{feed}");
    a.stop().await;
    b.stop().await;
}
