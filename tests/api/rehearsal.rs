//! A rehearsal of the two-VM deployment on this machine: real nginx with `nginx/vm1.conf`
//! and `nginx/vm2.conf` terminating TLS with a throwaway CA, `front` + `auth` over
//! PostgreSQL behind the first, `ws` behind the second, and a full chat over `https://` and
//! `wss://` through both. The two "VMs" are the loopback addresses 127.0.0.2 and 127.0.0.3
//! (not network namespaces: see docs/deploy.md).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};

use crate::helpers::{Backend, ChatappProcess, TestDb, chatapp_cmd};

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and one leaf certificate for both "VMs" (IP subject alternative names).
fn throwaway_pki(dir: &Path) {
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=chatapp rehearsal CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
        dir,
    );
    openssl(
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=chat.test",
            "-keyout",
            "privkey.pem",
            "-out",
            "leaf.csr",
        ],
        dir,
    );
    std::fs::write(dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.2,IP:127.0.0.3,DNS:chat.test,DNS:ws.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
        .expect("ext");
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "leaf.ext",
            "-out",
            "fullchain.pem",
        ],
        dir,
    );
    openssl(
        &["x509", "-in", "ca.pem", "-outform", "der", "-out", "ca.der"],
        dir,
    );
}

fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    probe.local_addr().expect("addr").port()
}

fn port_of(address: &str) -> String {
    address.rsplit(':').next().expect("port").to_owned()
}

/// One nginx with one of the repository's configs, rewritten only where this machine
/// differs from a VM: addresses, ports and file locations.
struct Nginx {
    child: Child,
    dir: PathBuf,
}

impl Nginx {
    fn start(
        conf: &str,
        ip: &str,
        http: u16,
        https: u16,
        upstreams: &[(&str, String)],
        pki: &Path,
    ) -> Self {
        let dir = tempfile::tempdir().expect("dir").keep();
        let d = dir.display();
        let mut site = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("nginx")
                .join(conf),
        )
        .expect("config")
        .replace(
            "listen 443 ssl http2;",
            &format!("listen {ip}:{https} ssl http2;"),
        )
        .replace("listen [::]:443 ssl http2;", "")
        .replace("listen 80;", &format!("listen {ip}:{http};"))
        .replace("listen [::]:80;", "")
        .replace("/etc/chatapp/tls/", &format!("{}/", pki.display()))
        .replace("/var/log/nginx/", &format!("{d}/"))
        .replace("/var/www/acme", &format!("{d}/acme"))
        .replace(
            "/opt/chatapp/static/",
            concat!(env!("CARGO_MANIFEST_DIR"), "/static/"),
        );
        for (from, to) in upstreams {
            site = site.replace(from, to);
        }
        std::fs::write(dir.join("site.conf"), site).expect("site");
        let main = format!(
            "user root;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\n\
             http {{\n  access_log {d}/access.log;\n  include /etc/nginx/mime.types;\n  include {d}/site.conf;\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), main).expect("main");
        let child = Command::new("nginx")
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect((ip, https)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx ({conf}) did not start: {}",
                std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, dir }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tls_client(pki: &Path) -> awc::Client {
    let mut roots = rustls::RootCertStore::empty();
    let der = std::fs::read(pki.join("ca.der")).expect("ca.der");
    roots
        .add(rustls::pki_types::CertificateDer::from(der))
        .expect("CA");
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    // HTTP/1.1 only: WebSockets do not ride on HTTP/2 through this nginx. (awc's
    // max_http_version would rebuild the TLS settings with the public roots.)
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = awc::Connector::new().rustls_0_23(Arc::new(config));
    awc::Client::builder()
        .connector(connector)
        .disable_redirects()
        .timeout(Duration::from_secs(20))
        .finish()
}

#[actix_web::test]
async fn two_vms_behind_nginx_with_tls_chat_end_to_end() {
    for tool in ["nginx", "openssl"] {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool} || test -x /usr/sbin/{tool}"))
            .status();
        assert!(
            found.map(|s| s.success()).unwrap_or(false),
            "{tool} is needed (scripts/test installs it)"
        );
    }
    let pki = tempfile::tempdir().expect("pki");
    throwaway_pki(pki.path());
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
    let service = "rehearsal-service-credential-0123456789";

    // VM #1: auth and front.
    let mut cmd = chatapp_cmd(dir.path());
    cmd.args(["auth", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &db.url)
        .env(
            "CHATAPP__AUTH__SIGNING_KEY_FILE",
            keys.join("jwt_ed25519.pem"),
        )
        .env("CHATAPP__AUTH__BCRYPT_COST", "4")
        .env("CHATAPP__HTTP__TRUSTED_PROXIES", "127.0.0.1");
    let auth = ChatappProcess::start(cmd);
    let mut cmd = chatapp_cmd(dir.path());
    cmd.args(["front", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &db.url)
        .env(
            "CHATAPP__JWT__PUBLIC_KEY_FILE",
            keys.join("jwt_ed25519.pub.pem"),
        )
        .env("CHATAPP__FRONT__AUTH_URL", &auth.address)
        .env("CHATAPP__INTERNAL__TOKEN", service)
        .env("CHATAPP__HTTP__TRUSTED_PROXIES", "127.0.0.1");
    let front = ChatappProcess::start(cmd);
    // VM #2: ws, with only the public key.
    let mut cmd = chatapp_cmd(dir.path());
    cmd.args(["ws", "--bind", "127.0.0.1:0"])
        .env(
            "CHATAPP__JWT__PUBLIC_KEY_FILE",
            keys.join("jwt_ed25519.pub.pem"),
        )
        .env("CHATAPP__WS__FRONT_URL", &front.address)
        .env("CHATAPP__INTERNAL__TOKEN", service)
        .env("CHATAPP__HTTP__TRUSTED_PROXIES", "127.0.0.1");
    let ws = ChatappProcess::start(cmd);

    let (vm1_http, vm1_https, vm2_http, vm2_https) =
        (free_port(), free_port(), free_port(), free_port());
    let _vm1 = Nginx::start(
        "vm1.conf",
        "127.0.0.2",
        vm1_http,
        vm1_https,
        &[
            (
                "127.0.0.1:5000",
                format!("127.0.0.1:{}", port_of(&front.address)),
            ),
            (
                "127.0.0.1:5001",
                format!("127.0.0.1:{}", port_of(&auth.address)),
            ),
        ],
        pki.path(),
    );
    let vm2 = Nginx::start(
        "vm2.conf",
        "127.0.0.3",
        vm2_http,
        vm2_https,
        &[(
            "127.0.0.1:5002",
            format!("127.0.0.1:{}", port_of(&ws.address)),
        )],
        pki.path(),
    );
    let site = format!("https://127.0.0.2:{vm1_https}");
    let client = tls_client(pki.path());

    // Plain HTTP is sent to HTTPS.
    let response = awc::Client::builder()
        .disable_redirects()
        .finish()
        .get(format!("http://127.0.0.2:{vm1_http}/home"))
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

    // Accounts through VM #1's nginx and auth.
    let mut tokens = Vec::new();
    for name in ["alice", "bob"] {
        let body = json!({"username": name, "password": "rehearsal password"});
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
    // The internal API is not public.
    let response = client
        .post(format!("{site}/api/messages/save_message"))
        .insert_header(("Authorization", format!("Bearer {service}")))
        .send_json(&json!({}))
        .await
        .expect("internal");
    assert_eq!(response.status().as_u16(), 404);

    // Chat over wss:// through VM #2's nginx.
    let wss = format!("wss://127.0.0.3:{vm2_https}/ws/chat");
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
    let path = vm2.dir.join("chatapp-ws.access.log");
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
}
