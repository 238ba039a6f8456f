//! The two-VM shape on one machine: `auth` and `front` as separate processes over one
//! PostgreSQL, only `auth` holding the private key.

use serde_json::{Value, json};

use crate::helpers::{Backend, Browser, ChatappProcess, TestDb, chatapp_cmd};

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

    let mut auth_cmd = chatapp_cmd(dir.path());
    auth_cmd
        .args(["auth", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &db.url)
        .env(
            "CHATAPP__AUTH__SIGNING_KEY_FILE",
            keys.join("jwt_ed25519.pem"),
        )
        .env("CHATAPP__AUTH__BCRYPT_COST", "4")
        .env("CHATAPP__HTTP__TRUSTED_PROXIES", "127.0.0.1");
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

impl Split {
    fn start() -> Self {
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
        let mut auth_cmd = chatapp_cmd(dir.path());
        auth_cmd
            .args(["auth", "--bind", "127.0.0.1:0"])
            .env("DATABASE_URL", &db.url)
            .env(
                "CHATAPP__AUTH__SIGNING_KEY_FILE",
                keys.join("jwt_ed25519.pem"),
            )
            .env("CHATAPP__AUTH__BCRYPT_COST", "4");
        let auth = ChatappProcess::start(auth_cmd);
        // front gets a fixed port so it can come back on the same address.
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
        let front_bind = probe.local_addr().expect("addr").to_string();
        drop(probe);
        let front = start_front(dir.path(), &db, &keys, &auth.address, &front_bind, None);
        let mut ws_cmd = chatapp_cmd(dir.path());
        ws_cmd
            .args(["ws", "--bind", "127.0.0.1:0"])
            .env(
                "CHATAPP__JWT__PUBLIC_KEY_FILE",
                keys.join("jwt_ed25519.pub.pem"),
            )
            .env("CHATAPP__WS__FRONT_URL", &front.address)
            .env("CHATAPP__INTERNAL__TOKEN", SERVICE);
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
