//! A rehearsal of the two-VM deployment on this machine: real nginx with `nginx/vm1.conf`
//! and `nginx/vm2.conf` terminating TLS with a throwaway CA, PostgreSQL and `front` + `auth`
//! on VM #1 behind the first, `ws` on VM #2 behind the second, and a full chat over
//! `https://` and `wss://` through both.
//!
//! The two VMs are network namespaces (`ip netns`) joined by veth pairs on a bridge, each
//! with its own address, loopback and ports, so the configs run unchanged but for file
//! paths. Where namespaces cannot be made (not root, no `ip`), the test says so and runs the
//! VMs as the loopback addresses 127.0.0.2 and 127.0.0.3 instead; under CI it fails.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};

use crate::helpers::vms::{
    Hosts, Nginx, NsPostgres, chatapp_on, free_port, throwaway_pki, tls_client,
};
use crate::helpers::{Backend, ChatappProcess, TestDb, auth_role, chatapp_cmd};

#[actix_web::test]
async fn two_vms_behind_nginx_with_tls_chat_end_to_end() {
    for tool in ["nginx", "openssl"] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool} || test -x /usr/sbin/{tool}"))
            .stdout(Stdio::null())
            .status();
        assert!(
            found.map(|s| s.success()).unwrap_or(false),
            "{tool} is needed (scripts/test installs it)"
        );
    }
    let hosts = Hosts::create();
    let namespaced = hosts.netns.is_some();
    if namespaced {
        // VM #1's loopback is its own: auth on 127.0.0.1 there is out of the host's reach.
        eprintln!(
            "rehearsal: VM #1 {} and VM #2 {} are network namespaces",
            hosts.vm1, hosts.vm2
        );
    }
    let (vm1, vm2) = (hosts.vm1.clone(), hosts.vm2.clone());
    let pki = tempfile::tempdir().expect("pki");
    throwaway_pki(pki.path(), [&vm1, &vm2]);

    // PostgreSQL on VM #1: its own server in the namespace, or (fallback) a test database.
    let (_pg, _test_db, db_url) = if namespaced {
        let pg = NsPostgres::start(&hosts);
        (
            Some(pg),
            None,
            "postgres://postgres@127.0.0.1:5432/postgres".to_string(),
        )
    } else {
        let db = TestDb::empty(Backend::Postgres);
        let url = db.url.clone();
        (None, Some(db), url)
    };
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
    let migrated = chatapp_on(&hosts, 1, dir.path())
        .arg("migrate")
        .env("DATABASE_URL", &db_url)
        .output()
        .expect("migrate");
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let service = "rehearsal-service-credential-0123456789";

    // The ports the configs name, inside the namespaces; free ones on shared loopback.
    let pick = |fixed: u16| if namespaced { fixed } else { free_port() };
    let (front_port, auth_port, ws_port) = (pick(5000), pick(5001), pick(5002));
    let (http_port, https_port) = (pick(80), pick(443));
    let (vm2_http, vm2_https) = if namespaced {
        (80, 443)
    } else {
        (free_port(), free_port())
    };

    // VM #1: auth and front.
    let bind = format!("127.0.0.1:{auth_port}");
    let mut cmd = auth_role(chatapp_on(&hosts, 1, dir.path()), &bind, &db_url, &keys);
    cmd.env("CHATAPP__HTTP__TRUSTED_PROXIES", "127.0.0.1");
    let _auth = ChatappProcess::start(cmd);
    let front_bind = if namespaced {
        format!("0.0.0.0:{front_port}")
    } else {
        format!("127.0.0.1:{front_port}")
    };
    let mut cmd = chatapp_on(&hosts, 1, dir.path());
    cmd.args(["front", "--bind", &front_bind])
        .env("DATABASE_URL", &db_url)
        .env(
            "CHATAPP__JWT__PUBLIC_KEY_FILE",
            keys.join("jwt_ed25519.pub.pem"),
        )
        .env(
            "CHATAPP__FRONT__AUTH_URL",
            format!("http://127.0.0.1:{auth_port}"),
        )
        .env(
            "CHATAPP__FRONT__WS_URL",
            format!(
                "http://{}:{ws_port}",
                if namespaced { &vm2 } else { "127.0.0.1" }
            ),
        )
        .env("CHATAPP__INTERNAL__TOKEN", service)
        .env("CHATAPP__HTTP__TRUSTED_PROXIES", "127.0.0.1");
    let _front = ChatappProcess::start(cmd);
    // VM #2: ws, with only the public key, storing through VM #1's front.
    let ws_bind = if namespaced {
        format!("0.0.0.0:{ws_port}")
    } else {
        format!("127.0.0.1:{ws_port}")
    };
    let mut cmd = chatapp_on(&hosts, 2, dir.path());
    cmd.args(["ws", "--bind", &ws_bind])
        .env(
            "CHATAPP__JWT__PUBLIC_KEY_FILE",
            keys.join("jwt_ed25519.pub.pem"),
        )
        .env(
            "CHATAPP__WS__FRONT_URL",
            format!(
                "http://{}:{front_port}",
                if namespaced { &vm1 } else { "127.0.0.1" }
            ),
        )
        .env("CHATAPP__INTERNAL__TOKEN", service)
        .env("CHATAPP__HTTP__TRUSTED_PROXIES", "127.0.0.1");
    let _ws = ChatappProcess::start(cmd);

    let _vm1_nginx = Nginx::start(
        &hosts,
        1,
        "vm1.conf",
        &vm1,
        http_port,
        https_port,
        &[
            ("127.0.0.1:5000", format!("127.0.0.1:{front_port}")),
            ("127.0.0.1:5001", format!("127.0.0.1:{auth_port}")),
        ],
        pki.path(),
    );
    let vm2_nginx = Nginx::start(
        &hosts,
        2,
        "vm2.conf",
        &vm2,
        vm2_http,
        vm2_https,
        &[("127.0.0.1:5002", format!("127.0.0.1:{ws_port}"))],
        pki.path(),
    );
    let site = format!("https://{vm1}:{https_port}");
    let client = tls_client(pki.path());

    // Plain HTTP is sent to HTTPS.
    let response = awc::Client::builder()
        .disable_redirects()
        .finish()
        .get(format!("http://{vm1}:{http_port}/home"))
        .send()
        .await
        .expect("http");
    assert_eq!(response.status().as_u16(), 301);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(location.starts_with("https://"), "{location}");

    // Accounts through VM #1's nginx and auth, as a team gets them: the first is the
    // administrator's, who hands out the join code; the next registers with it.
    let mut tokens: Vec<String> = Vec::new();
    for name in ["alice", "bob"] {
        let mut body = json!({"username": name, "password": "rehearsal password"});
        if let Some(admin) = tokens.first() {
            let mut response = client
                .get(format!("{site}/api/admin/join_code"))
                .insert_header(("Authorization", format!("Bearer {admin}")))
                .send()
                .await
                .expect("join code");
            assert_eq!(response.status().as_u16(), 200);
            let code: Value = response.json().await.expect("json");
            body["invite"] = code["code"].clone();
        }
        let response = client
            .post(format!("{site}/auth/api/register"))
            .send_json(&body)
            .await
            .expect("register");
        assert_eq!(response.status().as_u16(), 201);
        let mut response = client
            .post(format!("{site}/auth/api/login"))
            .send_json(&body)
            .await
            .expect("login");
        assert_eq!(response.status().as_u16(), 200);
        assert!(response.headers().contains_key("strict-transport-security"));
        let v: Value = response.json().await.expect("json");
        tokens.push(v["access_token"].as_str().expect("token").to_owned());
    }

    // Pages and static files: front renders, nginx serves /static/ with long caching.
    let response = client
        .get(format!("{site}/auth/login"))
        .send()
        .await
        .expect("page");
    assert_eq!(response.status().as_u16(), 200);
    let response = client
        .get(format!("{site}/static/css/app.css?v=1"))
        .send()
        .await
        .expect("css");
    assert_eq!(response.status().as_u16(), 200);
    let caches: Vec<&str> = response
        .headers()
        .get_all("cache-control")
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(
        caches,
        vec!["public, max-age=31536000, immutable"],
        "exactly one Cache-Control"
    );
    // One address flooding the pages meets nginx's limit (429) well before `front` does,
    // and a person's next page a moment later is served again.
    // (Ten connections, thirty requests each, one after another: fast over keep-alive.)
    let flood = (0..10).map(|_| async {
        let mut statuses = Vec::new();
        for _ in 0..30 {
            let response = client.get(format!("{site}/auth/login")).send().await;
            statuses.push(response.expect("page").status().as_u16());
        }
        statuses
    });
    let statuses: Vec<u16> = futures_util::future::join_all(flood)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    assert!(statuses.contains(&429), "nginx limits a flood of pages");
    let mut served = false;
    for _ in 0..50 {
        let status = client
            .get(format!("{site}/auth/login"))
            .send()
            .await
            .expect("page")
            .status();
        if status == 200 {
            served = true;
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(served, "pages are served again after the flood");
    // The internal API is not public.
    let response = client
        .post(format!("{site}/api/messages/save_message"))
        .insert_header(("Authorization", format!("Bearer {service}")))
        .send_json(&json!({}))
        .await
        .expect("internal");
    assert_eq!(response.status().as_u16(), 404);

    // Chat over wss:// through VM #2's nginx.
    let wss = format!("wss://{vm2}:{vm2_https}/ws/chat");
    let mut sockets = Vec::new();
    for token in &tokens {
        let (_, mut socket) = client
            .ws(format!("{wss}?token={token}"))
            .connect()
            .await
            .expect("wss connect");
        socket
            .send(awc::ws::Message::Text(
                json!({"type": "join", "room": "general"})
                    .to_string()
                    .into(),
            ))
            .await
            .expect("join");
        sockets.push(socket);
    }
    async fn next_json(
        socket: &mut actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>,
        kind: &str,
    ) -> Value {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(20), socket.next())
                .await
                .expect("a frame in time")
                .expect("open")
                .expect("frame");
            if let awc::ws::Frame::Text(bytes) = frame {
                let v: Value = serde_json::from_slice(&bytes).expect("json");
                if v["type"] == kind {
                    return v;
                }
            }
        }
    }
    next_json(&mut sockets[0], "presence").await;
    next_json(&mut sockets[1], "presence").await;
    sockets[0].send(awc::ws::Message::Text(
        json!({"type": "chat", "room": "general", "content": "hello over TLS", "client_id": "r-1"}).to_string().into(),
    )).await.expect("chat");
    let ack = next_json(&mut sockets[0], "ack").await;
    assert_eq!(ack["seq"], 1);
    let got = next_json(&mut sockets[1], "chat").await;
    assert_eq!(
        (got["sender"].clone(), got["content"].clone()),
        (json!("alice"), json!("hello over TLS"))
    );

    // History through VM #1.
    let mut response = client
        .get(format!("{site}/api/chat/chat_history?room=general"))
        .insert_header(("Authorization", format!("Bearer {}", tokens[1])))
        .send()
        .await
        .expect("history");
    let page: Value = response.json().await.expect("json");
    assert_eq!(page["messages"][0]["content"], "hello over TLS");

    // VM #2's access log has the sockets (logged once they close), but never a token.
    for mut socket in sockets {
        let _ = socket.send(awc::ws::Message::Close(None)).await;
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_secs(5), socket.next()).await {}
    }
    let path = vm2_nginx.dir.join("chatapp-ws.access.log");
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = std::fs::read_to_string(&path).unwrap_or_default();
        if log.matches("/ws/chat").count() >= 2 || Instant::now() > deadline {
            break log;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(log.matches("/ws/chat").count(), 2, "{log}");
    for token in &tokens {
        assert!(!log.contains(token.as_str()), "the token was logged");
    }

    // Last (it spends this address's budget): the sign-in form is behind nginx's flood
    // limit like the auth API. Each post is refused by front at once (no CSRF token), so
    // 80 of them come faster than 20 + 10/s; nginx answers the excess with 429.
    let mut limited = 0;
    for _ in 0..80 {
        let response = client
            .post(format!("{site}/auth/login"))
            .send_form(&[("username", "alice"), ("password", "guess")])
            .await
            .expect("form post");
        match response.status().as_u16() {
            429 => limited += 1,
            403 => {}
            other => panic!("the sign-in form answered {other}"),
        }
    }
    assert!(limited > 0, "nginx never limited the sign-in form");
}
