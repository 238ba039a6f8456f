//! The binary as operators use it: --help, keygen, migrate, seed, bad config, `all` from
//! nothing, SIGTERM, and the split roles' start-up checks.

use std::process::Output;

use crate::helpers::{Backend, ChatappProcess, TestDb, chatapp_cmd};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run(cmd: &mut std::process::Command) -> Output {
    cmd.output().expect("run chatapp")
}

#[test]
fn help_describes_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(chatapp_cmd(dir.path()).arg("--help"));
    assert!(out.status.success());
    let help = text(&out.stdout);
    for sub in ["front", "auth", "ws", "all", "migrate", "seed", "keygen"] {
        assert!(help.contains(sub), "--help lacks {sub}:\n{help}");
    }
    assert!(help.contains("CHATAPP__DATABASE__URL"), "{help}");
    for sub in ["front", "auth", "ws", "all"] {
        let out = run(chatapp_cmd(dir.path()).args([sub, "--help"]));
        assert!(out.status.success());
        let help = text(&out.stdout);
        assert!(
            help.contains("--bind") && help.contains("--config"),
            "{sub}: {help}"
        );
    }
    let out = run(chatapp_cmd(dir.path()).arg("frobnicate"));
    assert!(!out.status.success());
}

#[test]
fn keygen_writes_a_pair_and_will_not_overwrite_it() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let out = run(chatapp_cmd(dir.path()).arg("keygen").arg(&keys));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let private = std::fs::read_to_string(keys.join("jwt_ed25519.pem")).unwrap();
    let public = std::fs::read_to_string(keys.join("jwt_ed25519.pub.pem")).unwrap();
    assert!(private.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert!(
        !text(&out.stdout).contains(private.lines().nth(1).unwrap()),
        "key echoed"
    );

    let out = run(chatapp_cmd(dir.path()).arg("keygen").arg(&keys));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("exists"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(keys.join("jwt_ed25519.pem")).unwrap(),
        private
    );

    let out = run(chatapp_cmd(dir.path())
        .args(["keygen", "--force"])
        .arg(&keys));
    assert!(out.status.success());
    assert_ne!(
        std::fs::read_to_string(keys.join("jwt_ed25519.pem")).unwrap(),
        private
    );
}

fn migrate_and_seed_twice(backend: Backend) {
    let db = TestDb::empty(backend);
    let dir = tempfile::tempdir().unwrap();
    let cmd = |sub: &str| {
        let mut cmd = chatapp_cmd(dir.path());
        cmd.arg(sub)
            .env("DATABASE_URL", &db.url)
            .env("CHATAPP__AUTH__BCRYPT_COST", "4");
        run(&mut cmd)
    };
    let first = cmd("migrate");
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains("applied 2026-11-25-000000_init"),
        "{}",
        text(&first.stdout)
    );
    let second = cmd("migrate");
    assert!(second.status.success());
    assert!(
        text(&second.stdout).contains("up to date"),
        "{}",
        text(&second.stdout)
    );

    let seeded = cmd("seed");
    assert!(seeded.status.success(), "{}", text(&seeded.stderr));
    assert!(
        text(&seeded.stdout).contains("25 users, 3 rooms, 1000 messages"),
        "{}",
        text(&seeded.stdout)
    );
    let again = cmd("seed");
    assert!(again.status.success());
    assert!(
        text(&again.stdout).contains("nothing to do"),
        "{}",
        text(&again.stdout)
    );
    for out in [&first, &second, &seeded, &again] {
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            !all.contains("postgres@"),
            "a database URL with its user leaked: {all}"
        );
    }
}

#[test]
fn migrate_and_seed_twice_on_sqlite() {
    migrate_and_seed_twice(Backend::Sqlite);
}

#[test]
fn migrate_and_seed_twice_on_postgres() {
    migrate_and_seed_twice(Backend::Postgres);
}

#[test]
fn a_wrong_setting_fails_at_start_naming_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(chatapp_cmd(dir.path())
        .arg("migrate")
        .env("CHATAPP__DATABASE__POOL_SIZE", "many"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("database.pool_size"),
        "{}",
        text(&out.stderr)
    );

    let out = run(chatapp_cmd(dir.path())
        .arg("migrate")
        .env("DATABASE_URL", "mysql://root:hunter2@localhost/chat"));
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("database.url") && !stderr.contains("hunter2"),
        "{stderr}"
    );

    std::fs::write(
        dir.path().join("custom.toml"),
        "[all]\nbind = \"not an address\"\n",
    )
    .unwrap();
    let out = run(chatapp_cmd(dir.path()).args(["all", "--config", "custom.toml"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("all.bind"),
        "{}",
        text(&out.stderr)
    );
}

#[actix_web::test]
async fn all_starts_from_nothing_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = chatapp_cmd(dir.path());
    cmd.args(["all", "--bind", "127.0.0.1:0"]);
    let server = ChatappProcess::start(cmd);
    assert!(server.address.starts_with("http://127.0.0.1:"));
    assert!(
        !server.address.ends_with(":0"),
        "the real port must be logged"
    );

    let client = awc::Client::default();
    let mut response = client
        .get(format!("{}/healthz", server.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");

    let data = dir.path().join("data");
    assert!(
        data.join("chatapp.db").is_file(),
        "no SQLite file in {}",
        data.display()
    );
    assert!(data.join("jwt_ed25519.pem").is_file());
    assert!(data.join("jwt_ed25519.pub.pem").is_file());

    let (code, _) = server.terminate();
    assert_eq!(code, Some(0), "SIGTERM must stop `all` cleanly");
}

#[test]
fn split_roles_refuse_an_outdated_schema() {
    let db = TestDb::empty(Backend::Postgres);
    let dir = tempfile::tempdir().unwrap();
    let pair = chatapp::tokens::KeyPair::generate().unwrap();
    let (_, public) = pair.write_to(dir.path(), false).unwrap();
    let out = run(chatapp_cmd(dir.path())
        .args(["front", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &db.url)
        .env("CHATAPP__JWT__PUBLIC_KEY_FILE", &public)
        .env("CHATAPP__FRONT__AUTH_URL", "http://127.0.0.1:5001"));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("run `chatapp migrate`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn auth_requires_a_signing_key() {
    let db = TestDb::empty(Backend::Sqlite);
    db.migrated(1);
    let dir = tempfile::tempdir().unwrap();
    let out = run(chatapp_cmd(dir.path())
        .args(["auth", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &db.url));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("auth.signing_key_file"),
        "{}",
        text(&out.stderr)
    );
}

#[actix_web::test]
async fn ws_serves_with_no_database_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let pair = chatapp::tokens::KeyPair::generate().unwrap();
    let (_, public) = pair.write_to(&dir.path().join("keys"), false).unwrap();
    let mut cmd = chatapp_cmd(dir.path());
    cmd.args(["ws", "--bind", "127.0.0.1:0"])
        .env("CHATAPP__JWT__PUBLIC_KEY_FILE", &public)
        .env("CHATAPP__WS__FRONT_URL", "http://127.0.0.1:5000")
        .env(
            "CHATAPP__INTERNAL__TOKEN",
            "a-service-credential-of-some-length",
        );
    let server = ChatappProcess::start(cmd);
    let mut response = awc::Client::default()
        .get(format!("{}/healthz", server.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["role"], "ws");
    assert!(
        !dir.path().join("data").exists(),
        "ws must not create a database"
    );
    let (code, _) = server.terminate();
    assert_eq!(code, Some(0));
}

/// Runs `chatapp admin ARGS` on `db` with `stdin` as its standard input.
fn admin(dir: &std::path::Path, db: &TestDb, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = chatapp_cmd(dir)
        .arg("admin")
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("CHATAPP__AUTH__BCRYPT_COST", "4")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("run")
}

#[actix_web::test]
async fn admin_commands_manage_users_without_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::empty(Backend::Sqlite);
    let out = admin(
        dir.path(),
        &db,
        &["create-user", "operator"],
        "operator's secret\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("operator (id 1, admin)"),
        "{}",
        text(&out.stdout)
    );
    assert!(!text(&out.stdout).contains("secret") && !text(&out.stderr).contains("secret"));
    let out = admin(
        dir.path(),
        &db,
        &["create-user", "helper", "--role", "member"],
        "helper's secret\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = admin(
        dir.path(),
        &db,
        &["create-user", "helper"],
        "another secret\n",
    );
    assert!(!out.status.success(), "a taken name");
    let out = admin(dir.path(), &db, &["create-user", "shorty"], "short\n");
    assert!(!out.status.success(), "a password under 8 characters");
    let out = admin(dir.path(), &db, &["set-role", "helper", "admin"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = admin(
        dir.path(),
        &db,
        &["set-password", "helper"],
        "a newer secret\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = admin(dir.path(), &db, &["join-code"], "");
    assert!(out.status.success());
    let code = text(&out.stdout).trim().to_owned();
    assert_eq!(code.len(), 24, "{code}");
    let out = admin(dir.path(), &db, &["join-code", "--rotate"], "");
    assert_ne!(text(&out.stdout).trim(), code, "rotated");

    // Then sign in through a server on the same database.
    let mut cmd = chatapp_cmd(dir.path());
    cmd.args(["all", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", &db.url)
        .env("CHATAPP__AUTH__BCRYPT_COST", "4");
    let server = ChatappProcess::start(cmd);
    let client = awc::Client::default();
    let login = |name: &str, password: &str| {
        client
            .post(format!("{}/auth/api/login", server.address))
            .send_json(&serde_json::json!({"username": name, "password": password}))
    };
    assert_eq!(
        login("operator", "operator's secret")
            .await
            .expect("login")
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        login("helper", "helper's secret")
            .await
            .expect("login")
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        login("helper", "a newer secret")
            .await
            .expect("login")
            .status()
            .as_u16(),
        200
    );
    let out = admin(dir.path(), &db, &["deactivate", "helper"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        login("helper", "a newer secret")
            .await
            .expect("login")
            .status()
            .as_u16(),
        403
    );
}
