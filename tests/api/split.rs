//! The two-VM shape on one machine: `auth` and `front` as separate processes over one
//! PostgreSQL, only `auth` holding the private key.

use serde_json::{Value, json};

use crate::helpers::{Backend, Browser, ChatappProcess, TestDb, auth_role, chatapp_cmd};

#[actix_web::test]
async fn split_front_and_auth_sign_in_end_to_end() {
    let db = TestDb::empty(Backend::Postgres);
    let dir = tempfile::tempdir().expect("dir");
    let keys = dir.path().join("keys");
    let out = chatapp_cmd(dir.path())
        .arg("keygen")
        .arg(&keys)
        .output()
        .expect("keygen");
    assert!(out.status.success());
    let out = chatapp_cmd(dir.path())
        .arg("migrate")
        .env("DATABASE_URL", &db.url)
        .output()
        .expect("migrate");
    assert!(out.status.success());

    let mut auth_cmd = auth_role(chatapp_cmd(dir.path()), "127.0.0.1:0", &db.url, &keys);
    auth_cmd.env("CHATAPP__HTTP__TRUSTED_PROXIES", "127.0.0.1");
    let auth = ChatappProcess::start(auth_cmd);

    let mut front_cmd = chatapp_cmd(dir.path());
    front_cmd
        .args(["front", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &db.url)
        .env(
            "CHATAPP__JWT__PUBLIC_KEY_FILE",
            keys.join("jwt_ed25519.pub.pem"),
        )
        .env("CHATAPP__FRONT__AUTH_URL", &auth.address);
    let front = ChatappProcess::start(front_cmd);

    // Through front's pages: register, land on /home, sign out, sign in again.
    let mut browser = Browser::new(&front.address);
    browser.register("mallory", "mallory's password").await;
    let home = browser.get("/home").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("mallory"));
    let token = home.csrf_token();
    browser
        .post_form("/auth/logout", &[("csrf_token", &token)])
        .await;
    browser.sign_in("mallory", "mallory's password").await;
    assert_eq!(browser.get("/home").await.status, 200);

    // Wrong passwords come back from auth as the form's error.
    let mut fresh = Browser::new(&front.address);
    let token = fresh.get("/auth/login").await.csrf_token();
    let page = fresh
        .post_form(
            "/auth/login",
            &[
                ("username", "mallory"),
                ("password", "not the password"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(page.status, 401, "{}", page.body);

    // A token from auth's API is good at front's API.
    let client = awc::Client::default();
    let mut response = client
        .post(format!("{}/auth/api/login", auth.address))
        .send_json(&json!({"username": "mallory", "password": "mallory's password"}))
        .await
        .expect("login");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("json");
    let token = body["access_token"].as_str().expect("token");
    let mut response = client
        .get(format!("{}/api/me", front.address))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send()
        .await
        .expect("me");
    assert_eq!(response.status().as_u16(), 200);
    let me: Value = response.json().await.expect("json");
    assert_eq!(me["username"], "mallory");

    // With auth gone, front says so instead of failing obscurely.
    let (code, _) = auth.terminate();
    assert_eq!(code, Some(0));
    let token = fresh.get("/auth/login").await.csrf_token();
    let page = fresh
        .post_form(
            "/auth/login",
            &[
                ("username", "mallory"),
                ("password", "mallory's password"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(page.status, 503, "{}", page.body);
    let (code, _) = front.terminate();
    assert_eq!(code, Some(0));
}

/// The three roles as separate processes over PostgreSQL, `ws` with no database.
struct Split {
    _dir: tempfile::TempDir,
    db: TestDb,
    keys: std::path::PathBuf,
    auth: ChatappProcess,
    front: Option<ChatappProcess>,
    front_bind: String,
    ws: ChatappProcess,
}

const SERVICE: &str = "split-service-credential-0123456789";

fn start_front(
    dir: &std::path::Path,
    db: &TestDb,
    keys: &std::path::Path,
    auth: &str,
    bind: &str,
    ws: Option<&str>,
) -> ChatappProcess {
    let mut cmd = chatapp_cmd(dir);
    cmd.args(["front", "--bind", bind])
        .env("DATABASE_URL", &db.url)
        .env(
            "CHATAPP__JWT__PUBLIC_KEY_FILE",
            keys.join("jwt_ed25519.pub.pem"),
        )
        .env("CHATAPP__FRONT__AUTH_URL", auth)
        .env("CHATAPP__INTERNAL__TOKEN", SERVICE);
    if let Some(ws) = ws {
        cmd.env("CHATAPP__FRONT__WS_URL", ws);
    }
    ChatappProcess::start(cmd)
}

/// A free address to bind to (so a role can come back on the same one).
fn free_bind() -> String {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
    probe.local_addr().expect("addr").to_string()
}

impl Split {
    fn start() -> Self {
        Self::start_with(free_bind(), None, &[])
    }

    /// `front` on `front_bind`; `ws` reaching it at `ws_front_url` (default: directly),
    /// with `ws_env` added to its environment.
    fn start_with(
        front_bind: String,
        ws_front_url: Option<String>,
        ws_env: &[(&str, &str)],
    ) -> Self {
        let db = TestDb::empty(Backend::Postgres);
        let dir = tempfile::tempdir().expect("dir");
        let keys = dir.path().join("keys");
        assert!(
            chatapp_cmd(dir.path())
                .arg("keygen")
                .arg(&keys)
                .status()
                .expect("keygen")
                .success()
        );
        assert!(
            chatapp_cmd(dir.path())
                .arg("migrate")
                .env("DATABASE_URL", &db.url)
                .status()
                .expect("migrate")
                .success()
        );
        let auth_cmd = auth_role(chatapp_cmd(dir.path()), "127.0.0.1:0", &db.url, &keys);
        let auth = ChatappProcess::start(auth_cmd);
        // front gets a fixed port so it can come back on the same address.
        // front reaches ws (presence, announcements) at an address chosen before either starts.
        let ws_bind = free_bind();
        let front = start_front(
            dir.path(),
            &db,
            &keys,
            &auth.address,
            &front_bind,
            Some(&format!("http://{ws_bind}")),
        );
        let mut ws_cmd = chatapp_cmd(dir.path());
        ws_cmd
            .args(["ws", "--bind", &ws_bind])
            .env(
                "CHATAPP__JWT__PUBLIC_KEY_FILE",
                keys.join("jwt_ed25519.pub.pem"),
            )
            .env(
                "CHATAPP__WS__FRONT_URL",
                ws_front_url.unwrap_or_else(|| front.address.clone()),
            )
            .env("CHATAPP__INTERNAL__TOKEN", SERVICE)
            .envs(ws_env.iter().copied());
        let ws = ChatappProcess::start(ws_cmd);
        Self {
            _dir: dir,
            db,
            keys,
            auth,
            front: Some(front),
            front_bind,
            ws,
        }
    }

    async fn token(&self, name: &str) -> String {
        let client = awc::Client::default();
        let body = json!({"username": name, "password": "split password"});
        let response = client
            .post(format!("{}/auth/api/register", self.auth.address))
            .send_json(&body)
            .await
            .expect("register");
        assert_eq!(response.status().as_u16(), 201);
        let mut response = client
            .post(format!("{}/auth/api/login", self.auth.address))
            .send_json(&body)
            .await
            .expect("login");
        let v: Value = response.json().await.expect("json");
        v["access_token"].as_str().expect("token").to_owned()
    }
}

#[actix_web::test]
async fn split_roles_chat_and_survive_front_going_away() {
    use crate::helpers::WsClient;
    let mut split = Split::start();
    let alice = split.token("alice").await;
    let bob = split.token("bob").await;
    let mut a = WsClient::connect(&split.ws.address, &alice).await;
    let mut b = WsClient::connect(&split.ws.address, &bob).await;
    a.join("general").await;
    b.join("general").await;

    let chat = |content: &str, cid: &str| json!({"type": "chat", "room": "general", "content": content, "client_id": cid});
    a.send(chat("over the wire", "s-1")).await;
    let ack = a.recv_type("ack").await;
    assert_eq!(ack["seq"], 1);
    assert_eq!(a.recv_type("chat").await["seq"], 1, "the sender's own copy");
    let got = b.recv_type("chat").await;
    assert_eq!(
        (
            got["sender"].clone(),
            got["content"].clone(),
            got["seq"].clone()
        ),
        (json!("alice"), json!("over the wire"), json!(1))
    );

    // front goes away: the sender is told not_saved, nobody gets a broadcast.
    let (code, _) = split.front.take().expect("front").terminate();
    assert_eq!(code, Some(0));
    a.send(chat("while front is down", "s-2")).await;
    a.send(chat("and another", "s-3")).await;
    let mut refused = Vec::new();
    while refused.len() < 2 {
        let frame = a.recv().await;
        if frame["type"] == "error" {
            assert_eq!(frame["code"], "not_saved", "{frame}");
            refused.push(frame["client_id"].as_str().expect("client_id").to_owned());
        } else {
            assert_ne!(frame["type"], "chat", "nothing may be broadcast: {frame}");
        }
    }
    assert_eq!(refused, vec!["s-2", "s-3"]);

    // front is back: the same client ids are resent, and each is stored exactly once.
    split.front = Some(start_front(
        split._dir.path(),
        &split.db,
        &split.keys,
        &split.auth.address,
        &split.front_bind,
        Some(&split.ws.address),
    ));
    for _ in 0..2 {
        a.send(chat("while front is down", "s-2")).await;
        a.send(chat("and another", "s-3")).await;
    }
    let mut acks = Vec::new();
    let mut own = Vec::new();
    while acks.len() < 4 || own.len() < 2 {
        let frame = a.recv().await;
        if frame["type"] == "ack" {
            acks.push((
                frame["client_id"].as_str().expect("cid").to_owned(),
                frame["seq"].as_i64().expect("seq"),
            ));
        } else if frame["type"] == "chat" {
            own.push(frame["seq"].as_i64().expect("seq"));
        }
    }
    assert_eq!(own, vec![2, 3], "the sender's copies, once each");
    assert_eq!(
        acks,
        vec![
            ("s-2".into(), 2),
            ("s-3".into(), 3),
            ("s-2".into(), 2),
            ("s-3".into(), 3)
        ]
    );
    let mut broadcast = Vec::new();
    while broadcast.len() < 2 {
        let frame = b.recv().await;
        if frame["type"] == "chat" {
            broadcast.push(frame["seq"].as_i64().expect("seq"));
        }
    }
    assert_eq!(broadcast, vec![2, 3]);

    // History through front holds each once; presence through front asks ws.
    let front = split.front.as_ref().expect("front");
    let client = awc::Client::default();
    let mut response = client
        .get(format!(
            "{}/api/chat/chat_history?room=general",
            front.address
        ))
        .insert_header(("Authorization", format!("Bearer {bob}")))
        .send()
        .await
        .expect("history");
    let page: Value = response.json().await.expect("json");
    let seqs: Vec<i64> = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    let mut response = client
        .get(format!("{}/api/presence?room=general", front.address))
        .insert_header(("Authorization", format!("Bearer {bob}")))
        .send()
        .await
        .expect("presence");
    assert_eq!(response.status().as_u16(), 200);
    let presence: Value = response.json().await.expect("json");
    assert_eq!(presence["users"], json!(["alice", "bob"]));

    // SIGTERM on ws closes the sockets with 1012, so clients reconnect at once.
    let Split { ws, .. } = split;
    let (code, _) = ws.terminate();
    assert_eq!(code, Some(0));
    assert_eq!(
        a.next().await.err(),
        Some(crate::helpers::Ended::Closed(Some(1012)))
    );
}

#[actix_web::test]
async fn split_roles_deliver_twenty_times_fifty_exactly_once() {
    use crate::helpers::WsClient;
    const CLIENTS: usize = 20;
    const EACH: usize = 50;
    let split = Split::start();
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let token = split.token(&format!("member{i}")).await;
        let mut ws = WsClient::connect(&split.ws.address, &token).await;
        ws.join("general").await;
        clients.push(ws);
    }
    crate::chat::everyone_sends(clients, EACH).await;
}

/// What one client received: chat frames' seqs in order (a repeat shows), and acks.
#[derive(Default)]
struct Seen {
    chats: Vec<i64>,
    acks: Vec<Value>,
}

impl Seen {
    /// Receives until there are `acks` acks and a chat frame for every seq in `seqs`.
    async fn until(&mut self, client: &mut crate::helpers::WsClient, acks: usize, seqs: &[i64]) {
        while self.acks.len() < acks || !seqs.iter().all(|s| self.chats.contains(s)) {
            let frame = match client.next().await {
                Ok(frame) => frame,
                Err(ended) => panic!("{ended:?} after chats {:?}", self.chats),
            };
            match frame["type"].as_str() {
                Some("chat") => self.chats.push(frame["seq"].as_i64().expect("seq")),
                Some("ack") => self.acks.push(frame),
                _ => {}
            }
        }
    }
}

#[actix_web::test]
async fn a_save_whose_reply_is_lost_is_acked_and_announced_once() {
    use crate::helpers::{LossyProxy, WsClient};
    let front_bind = free_bind();
    let proxy = LossyProxy::start(&front_bind, b"save_message").await;
    let split = Split::start_with(front_bind, Some(format!("http://{}", proxy.address)), &[]);
    let (alice, bob) = (split.token("alice").await, split.token("bob").await);
    let mut a = WsClient::connect(&split.ws.address, &alice).await;
    let mut b = WsClient::connect(&split.ws.address, &bob).await;
    a.join("general").await;
    b.join("general").await;

    // front stores the message, and its reply never reaches ws: ws sends the batch again,
    // the retry finds the message stored, and it is acked and announced.
    let (mut seen_a, mut seen_b) = (Seen::default(), Seen::default());
    proxy.lose_next(1);
    a.send(json!({"type": "chat", "room": "general", "content": "lost reply", "client_id": "l-1"}))
        .await;
    seen_a.until(&mut a, 1, &[]).await;
    let ack = &seen_a.acks[0];
    assert_eq!(
        (ack["client_id"].clone(), ack["seq"].clone()),
        (json!("l-1"), json!(1))
    );
    assert_eq!(proxy.still_to_lose(), 0, "the reply was lost");
    // A chat without a client id: one is assigned at the door, so the retry of a lost
    // reply does not store it twice.
    proxy.lose_next(1);
    b.send(json!({"type": "chat", "room": "general", "content": "no id"}))
        .await;
    seen_b.until(&mut b, 1, &[]).await;
    assert_eq!(seen_b.acks[0]["seq"], 2, "{}", seen_b.acks[0]);
    assert_eq!(proxy.still_to_lose(), 0);
    a.send(json!({"type": "chat", "room": "general", "content": "after", "client_id": "l-2"}))
        .await;
    seen_a.until(&mut a, 2, &[1, 2, 3]).await;
    seen_b.until(&mut b, 1, &[1, 2, 3]).await;
    assert_eq!(seen_a.chats, vec![1, 2, 3], "each once, in order");
    assert_eq!(seen_b.chats, vec![1, 2, 3], "each once, in order");
    // The client resends (as after a reconnect): acked with the original, not announced
    // again.
    a.send(json!({"type": "chat", "room": "general", "content": "lost reply", "client_id": "l-1"}))
        .await;
    a.send(json!({"type": "chat", "room": "general", "content": "last", "client_id": "l-3"}))
        .await;
    seen_a.until(&mut a, 4, &[4]).await;
    seen_b.until(&mut b, 1, &[4]).await;
    assert_eq!(seen_a.acks[2]["seq"], 1);
    assert_eq!(seen_a.chats, vec![1, 2, 3, 4], "no repeat of 1");
    assert_eq!(seen_b.chats, vec![1, 2, 3, 4], "no repeat of 1");
    let client = awc::Client::default();
    let mut response = client
        .get(format!(
            "{}/api/chat/events?room=general",
            split.front.as_ref().expect("front").address
        ))
        .insert_header(("Authorization", format!("Bearer {bob}")))
        .send()
        .await
        .expect("events");
    let page: Value = response.json().await.expect("json");
    let contents: Vec<&str> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["content"].as_str().expect("content"))
        .collect();
    assert_eq!(contents, vec!["lost reply", "no id", "after", "last"]);
}

#[actix_web::test]
async fn a_save_held_past_its_timeout_is_acked_and_announced_once() {
    use crate::helpers::WsClient;
    use diesel::{Connection, RunQueryDsl};
    let split = Split::start_with(
        free_bind(),
        None,
        &[("CHATAPP__WS__SAVE_TIMEOUT_SECS", "1")],
    );
    let (alice, bob) = (split.token("alice").await, split.token("bob").await);
    let mut a = WsClient::connect(&split.ws.address, &alice).await;
    let mut b = WsClient::connect(&split.ws.address, &bob).await;
    a.join("general").await;
    b.join("general").await;

    // The messages table is locked while alice sends: ws's save times out, and its retry
    // races the first attempt, still waiting inside PostgreSQL, for the table.
    let mut locker = diesel::PgConnection::establish(&split.db.url).expect("connect");
    let mut watcher = diesel::PgConnection::establish(&split.db.url).expect("connect");
    diesel::connection::SimpleConnection::batch_execute(
        &mut locker,
        "BEGIN; LOCK TABLE messages IN ACCESS EXCLUSIVE MODE",
    )
    .expect("lock");
    a.send(json!({"type": "chat", "room": "general", "content": "held", "client_id": "h-1"}))
        .await;
    // Both attempts wait on the lock: the first one timed out on ws's side.
    #[derive(diesel::QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let waiting: Waiting = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity              WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .get_result(&mut watcher)
        .expect("pg_stat_activity");
        if waiting.n >= 2 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the retry never came");
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    diesel::connection::SimpleConnection::batch_execute(&mut locker, "COMMIT").expect("unlock");

    let (mut seen_a, mut seen_b) = (Seen::default(), Seen::default());
    seen_a.until(&mut a, 1, &[]).await;
    let ack = &seen_a.acks[0];
    assert_eq!(
        (ack["client_id"].clone(), ack["seq"].clone()),
        (json!("h-1"), json!(1))
    );
    a.send(json!({"type": "chat", "room": "general", "content": "next", "client_id": "h-2"}))
        .await;
    seen_a.until(&mut a, 2, &[1, 2]).await;
    seen_b.until(&mut b, 0, &[1, 2]).await;
    assert_eq!(seen_a.chats, vec![1, 2], "announced, once");
    assert_eq!(seen_b.chats, vec![1, 2], "announced, once");
}

#[actix_web::test]
async fn front_announces_membership_changes_and_deactivations_through_ws() {
    use crate::helpers::{Ended, WsClient};
    let split = Split::start();
    let alice = split.token("alice").await; // the first account: the administrator
    let bob = split.token("bob").await;
    let front = split.front.as_ref().expect("front").address.clone();
    let client = awc::Client::default();
    let post = |path: &str, body: Value| {
        client
            .post(format!("{front}{path}"))
            .insert_header(("Authorization", format!("Bearer {alice}")))
            .send_json(&body)
    };
    let status = post("/api/rooms", json!({"name": "ops", "kind": "private"}))
        .await
        .expect("create")
        .status();
    assert_eq!(status.as_u16(), 201);
    let status = post("/api/rooms/ops/members", json!({"username": "bob"}))
        .await
        .expect("add")
        .status();
    assert_eq!(status.as_u16(), 201);
    let mut b = WsClient::connect(&split.ws.address, &bob).await;
    b.join("ops").await;
    let response = client
        .delete(format!("{front}/api/rooms/ops/members/bob"))
        .insert_header(("Authorization", format!("Bearer {alice}")))
        .send()
        .await
        .expect("remove");
    assert_eq!(response.status().as_u16(), 204);
    let removed = b.recv_type("member_removed").await;
    assert_eq!(
        (removed["user"].clone(), removed["seq"].clone()),
        (json!("bob"), json!(2))
    );
    // Alice signs out everywhere else: the socket her other session opened on the ws node
    // closes (front tells ws over POST /ws/internal/sessions/close).
    let mut response = client
        .post(format!("{}/auth/api/login", split.auth.address))
        .send_json(&json!({"username": "alice", "password": "split password"}))
        .await
        .expect("login");
    let other: Value = response.json().await.expect("json");
    let other = other["access_token"].as_str().expect("token").to_owned();
    let mut a = WsClient::connect(&split.ws.address, &other).await;
    a.join("ops").await;
    let response = client
        .delete(format!("{front}/api/sessions"))
        .insert_header(("Authorization", format!("Bearer {alice}")))
        .send()
        .await
        .expect("end sessions");
    assert_eq!(response.status().as_u16(), 200);
    let ended = loop {
        match a.next().await {
            Ok(_) => continue,
            Err(ended) => break ended,
        }
    };
    assert_eq!(ended, Ended::Closed(Some(4401)));

    // Deactivated: the socket on the ws node closes.
    let status = post("/api/admin/users/bob", json!({"active": false}))
        .await
        .expect("deactivate")
        .status();
    assert_eq!(status.as_u16(), 200);
    let ended = loop {
        match b.next().await {
            Ok(_) => continue,
            Err(ended) => break ended,
        }
    };
    assert_eq!(ended, Ended::Closed(Some(4401)));
}
