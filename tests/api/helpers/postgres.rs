//! A PostgreSQL server of a test's own (initdb in a temporary directory), which the test
//! may stop with any shutdown mode and start again on the same port while the roles keep
//! running: the shared server other tests use is never touched.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

use super::free_port;

pub struct OwnPostgres {
    dir: TempDir,
    bin: PathBuf,
    /// The account the server runs as when the tests run as root (PostgreSQL refuses root).
    user: Option<String>,
    pub port: u16,
}

fn server_binaries() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|entry| entry.path().join("bin"))
                .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|bin| {
        bin.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().expect(
        "PostgreSQL's server binaries under /usr/lib/postgresql (scripts/test installs them)",
    )
}

fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

fn account_exists(name: &str) -> bool {
    Command::new("id")
        .arg(name)
        .output()
        .is_ok_and(|o| o.status.success())
}

impl OwnPostgres {
    /// A fresh cluster, started and answering.
    pub fn start() -> Self {
        let bin = server_binaries();
        let dir = tempfile::tempdir().expect("temp dir");
        let user = running_as_root().then(|| {
            let name = ["postgres", "chatapp-test"]
                .into_iter()
                .find(|name| account_exists(name))
                .expect("an account for PostgreSQL to run as (postgres; scripts/test makes chatapp-test)");
            let status = Command::new("chown")
                .arg(name)
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown the cluster's directory");
            name.to_owned()
        });
        let pg = Self {
            bin,
            user,
            port: free_port(),
            dir,
        };
        let data = pg.data();
        let out = pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().expect("path"),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ],
        );
        assert!(out.status.success(), "initdb: {}", describe(&out));
        let args = pg.start_args();
        let out = pg.run(
            "pg_ctl",
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert!(out.status.success(), "pg_ctl start: {}", describe(&out));
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, tool: &str, args: &[&str]) -> Output {
        self.command(tool, args)
            .output()
            .expect("run a PostgreSQL tool")
    }

    /// As [`Self::run`], without blocking the test's runtime meanwhile.
    async fn run_async(&self, tool: &str, args: &[&str]) -> Output {
        tokio::process::Command::from(self.command(tool, args))
            .output()
            .await
            .expect("run a PostgreSQL tool")
    }

    fn command(&self, tool: &str, args: &[&str]) -> Command {
        let program = self.bin.join(tool);
        let mut cmd = match &self.user {
            Some(user) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--"]).arg(&program);
                cmd
            }
            None => Command::new(&program),
        };
        cmd.args(args);
        cmd
    }

    /// The URL of the cluster's `postgres` database.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Creates database `name` and answers its URL.
    pub fn create_database(&self, name: &str) -> String {
        use diesel::{Connection, PgConnection, RunQueryDsl};
        let mut admin = PgConnection::establish(&self.admin_url()).expect("own PostgreSQL");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("create database");
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    fn start_args(&self) -> Vec<String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log");
        [
            "-D",
            self.data().to_str().expect("path"),
            "-l",
            log.to_str().expect("path"),
            "-w",
            "-t",
            "60",
            "start",
            "-o",
            &options,
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// Starts the server again on its port and waits until it accepts connections.
    pub async fn start_again(&self) {
        let args = self.start_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.run_async("pg_ctl", &args).await;
        assert!(
            out.status.success(),
            "pg_ctl start: {}\n{}",
            describe(&out),
            std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
        );
    }

    /// Stops the server with shutdown `mode` (`smart`, `fast` or `immediate`) and waits.
    pub async fn stop(&self, mode: &str) {
        let data = self.data();
        let out = self
            .run_async(
                "pg_ctl",
                &["-D", data.to_str().expect("path"), "-m", mode, "-w", "stop"],
            )
            .await;
        assert!(out.status.success(), "pg_ctl stop: {}", describe(&out));
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

fn describe(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        if self.path().join("data/postmaster.pid").exists() {
            let data = self.data();
            let _ = self.run(
                "pg_ctl",
                &["-D", data.to_str().unwrap_or(""), "-m", "immediate", "stop"],
            );
        }
    }
}
