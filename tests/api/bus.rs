//! Several `ws` nodes over a real Redis: users on different nodes chat as if on one, and a
//! Redis restart mid-chat loses nothing that was acknowledged.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chatapp::server::Role;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, WsClient, spawn_app_with};

const SERVICE: &str = "bus-test-service-credential-0123";
static CHANNEL: AtomicUsize = AtomicUsize::new(0);

fn redis_url() -> String {
    std::env::var("CHATAPP_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Node A is `all` (front, auth, ws); node B is a `ws` storing through A's front. Both on
/// one Redis channel of their own.
async fn two_nodes(redis: &str) -> (TestApp, TestApp) {
    let channel = format!(
        "chatapp-test-{}-{}",
        std::process::id(),
        CHANNEL.fetch_add(1, Ordering::SeqCst)
    );
    let (url, ch) = (redis.to_owned(), channel.clone());
    let a = spawn_app_with(Role::All, Backend::Sqlite, move |s| {
        s.bus.redis_url = Some(SecretString::from(url));
        s.bus.channel = ch;
        s.internal.token = Some(SecretString::from(SERVICE));
    })
    .await;
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

/// A Redis of our own that the test can stop and start on the same port.
struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/test installs it)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            port,
            child: Some(child),
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[actix_web::test]
async fn a_redis_restart_mid_chat_loses_nothing_acknowledged() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        probe.local_addr().expect("addr").port()
    };
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

    // Redis is back: cross-node delivery resumes, and the gap is in history.
    let _redis = OwnRedis::start(redis.port);
    wait_for_bus(&a, "ok").await;
    wait_for_bus(&b, "ok").await;
    cat.send(chat("after", "r-3")).await;
    // "during" may have been dropped while Redis was away (dan then sees the gap before
    // 3) or published once Redis returned; either way nothing twice, nothing out of order.
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
