//! The split deployment as real processes on loopback: `auth`, `front` (over PostgreSQL),
//! and two `ws` nodes sharing a Redis, each at an address fixed before it starts so that
//! a role killed mid-load can come back where its peers and clients look for it.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::helpers::{
    Backend, ChatappProcess, OwnPostgres, OwnRedis, TestDb, auth_role, chatapp_cmd, free_port,
};

const SERVICE: &str = "faults-service-credential-0123456789";

/// Where the cluster's database lives.
pub enum Database {
    /// A fresh database on the shared server (dropped with the cluster).
    Shared { _db: TestDb },
    /// A server of the scenario's own, which it may restart.
    Own(OwnPostgres),
}

/// How to start a cluster; `Options::default()` is the plain split deployment.
#[derive(Default)]
pub struct Options {
    /// A PostgreSQL server of the cluster's own (to restart it), instead of the shared one.
    pub own_postgres: bool,
    /// The Redis URL the `ws` nodes use (default: the cluster's own Redis, directly).
    pub redis_url: Option<String>,
    /// Where the `ws` nodes reach `front` (default: directly at its address).
    pub ws_front_url: Option<String>,
    /// `front`'s address (`host:port`), chosen before the start (default: a free one).
    pub front_bind: Option<String>,
    /// Environment added to every `ws` node.
    pub ws_env: Vec<(String, String)>,
}

pub struct Cluster {
    dir: tempfile::TempDir,
    pub database: Database,
    db_url: String,
    pub redis: OwnRedis,
    redis_url: String,
    keys: PathBuf,
    pub auth: ChatappProcess,
    pub front: Option<ChatappProcess>,
    pub front_bind: String,
    ws_front_url: String,
    ws_env: Vec<(String, String)>,
    pub ws: Vec<Option<ChatappProcess>>,
    pub ws_binds: Vec<String>,
}

/// A free `127.0.0.1:port`.
pub fn free_bind() -> String {
    format!("127.0.0.1:{}", free_port())
}

impl Cluster {
    /// Starts every role over `redis` (started by the caller, so that a proxy in front of
    /// it can be set up before the nodes start).
    pub fn start(redis: OwnRedis, options: Options) -> Self {
        let (database, db_url) = if options.own_postgres {
            let pg = OwnPostgres::start();
            let url = pg.create_database("chatapp");
            (Database::Own(pg), url)
        } else {
            let db = TestDb::empty(Backend::Postgres);
            let url = db.url.clone();
            (Database::Shared { _db: db }, url)
        };
        let dir = tempfile::tempdir().expect("dir");
        let keys = dir.path().join("keys");
        for (args, with_db) in [
            (vec!["keygen", keys.to_str().expect("path")], false),
            (vec!["migrate"], true),
        ] {
            let mut cmd = chatapp_cmd(dir.path());
            cmd.args(&args);
            if with_db {
                cmd.env("DATABASE_URL", &db_url);
            }
            assert!(
                cmd.status().expect("run chatapp").success(),
                "chatapp {args:?}"
            );
        }
        let mut auth_cmd = auth_role(chatapp_cmd(dir.path()), "127.0.0.1:0", &db_url, &keys);
        auth_cmd.env("CHATAPP__DATABASE__CONNECT_TIMEOUT_SECS", "2");
        let auth = ChatappProcess::start(auth_cmd);
        let front_bind = options.front_bind.unwrap_or_else(free_bind);
        let ws_binds = vec![free_bind(), free_bind()];
        let mut cluster = Self {
            redis_url: options
                .redis_url
                .unwrap_or_else(|| format!("redis://{}", redis.address())),
            redis,
            ws_front_url: options
                .ws_front_url
                .unwrap_or_else(|| format!("http://{front_bind}")),
            ws_env: options.ws_env,
            dir,
            database,
            db_url,
            keys,
            auth,
            front: None,
            front_bind,
            ws: vec![None, None],
            ws_binds,
        };
        cluster.front = Some(ChatappProcess::start(cluster.front_command()));
        for node in 0..cluster.ws_binds.len() {
            cluster.ws[node] = Some(ChatappProcess::start(cluster.ws_command(node)));
        }
        cluster
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts `front` again at its address.
    pub async fn start_front(&mut self) {
        self.front = Some(ChatappProcess::start_async(self.front_command()).await);
    }

    /// Starts `ws` node `node` again at its address.
    pub async fn start_ws(&mut self, node: usize) {
        self.ws[node] = Some(ChatappProcess::start_async(self.ws_command(node)).await);
    }

    fn front_command(&self) -> std::process::Command {
        let mut cmd = chatapp_cmd(self.dir());
        cmd.args(["front", "--bind", &self.front_bind])
            .env("DATABASE_URL", &self.db_url)
            .env("CHATAPP__DATABASE__CONNECT_TIMEOUT_SECS", "2")
            .env(
                "CHATAPP__JWT__PUBLIC_KEY_FILE",
                self.keys.join("jwt_ed25519.pub.pem"),
            )
            .env("CHATAPP__FRONT__AUTH_URL", &self.auth.address)
            .env(
                "CHATAPP__FRONT__WS_URL",
                format!("http://{}", self.ws_binds[0]),
            )
            .env("CHATAPP__INTERNAL__TOKEN", SERVICE);
        cmd
    }

    fn ws_command(&self, node: usize) -> std::process::Command {
        let mut cmd = chatapp_cmd(self.dir());
        cmd.args(["ws", "--bind", &self.ws_binds[node]])
            .env(
                "CHATAPP__JWT__PUBLIC_KEY_FILE",
                self.keys.join("jwt_ed25519.pub.pem"),
            )
            .env("CHATAPP__WS__FRONT_URL", &self.ws_front_url)
            .env("CHATAPP__INTERNAL__TOKEN", SERVICE)
            .env("CHATAPP__BUS__REDIS_URL", &self.redis_url)
            .envs(self.ws_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd
    }

    /// `http://host:port` of `front`, whether or not it is up.
    pub fn front_url(&self) -> String {
        format!("http://{}", self.front_bind)
    }

    /// `http://host:port` of every `ws` node, whether or not it is up.
    pub fn ws_urls(&self) -> Vec<String> {
        self.ws_binds
            .iter()
            .map(|b| format!("http://{b}"))
            .collect()
    }

    /// The cluster's own PostgreSQL (panics for a shared one).
    pub fn own_postgres(&self) -> &OwnPostgres {
        match &self.database {
            Database::Own(pg) => pg,
            Database::Shared { .. } => panic!("this cluster runs on the shared PostgreSQL"),
        }
    }

    /// The database URL (to hold locks on it, say).
    pub fn db_url(&self) -> &str {
        &self.db_url
    }

    /// Registers `name` through `auth` and answers an access token.
    pub async fn token(&self, name: &str) -> String {
        let client = awc::Client::default();
        let body = json!({"username": name, "password": "faults password"});
        let response = client
            .post(format!("{}/auth/api/register", self.auth.address))
            .send_json(&body)
            .await
            .expect("register");
        assert_eq!(response.status().as_u16(), 201, "register {name}");
        let mut response = client
            .post(format!("{}/auth/api/login", self.auth.address))
            .send_json(&body)
            .await
            .expect("login");
        let v: Value = response.json().await.expect("json");
        v["access_token"].as_str().expect("token").to_owned()
    }

    /// Creates public room `name` as the holder of `token`.
    pub async fn create_room(&self, token: &str, name: &str) {
        let response = awc::Client::default()
            .post(format!("{}/api/rooms", self.front_url()))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .send_json(&json!({"name": name}))
            .await
            .expect("create room");
        assert_eq!(response.status().as_u16(), 201, "create room {name}");
    }
}
