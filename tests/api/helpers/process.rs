//! The `chatapp` binary as a child process, with an environment of the test's choosing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A `chatapp` command that sees no CHATAPP__ or DATABASE_URL from the caller's
/// environment and runs in `cwd` (so no stray chatapp.toml is read). Registration is
/// open, so tests make users freely; the tests of invitations set it back.
pub fn chatapp_cmd(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatapp"));
    cmd.current_dir(cwd)
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG");
    for (key, _) in std::env::vars() {
        if key.starts_with("CHATAPP__") {
            cmd.env_remove(key);
        }
    }
    cmd.env("CHATAPP__AUTH__REGISTRATION", "open");
    cmd
}

/// Makes `cmd` (from [`chatapp_cmd`]) run `auth` on `bind` over `db_url`, signing with the
/// private key in `keys` (as `chatapp keygen` writes it), with cheap bcrypt for tests.
pub fn auth_role(mut cmd: Command, bind: &str, db_url: &str, keys: &Path) -> Command {
    cmd.args(["auth", "--bind", bind])
        .env("DATABASE_URL", db_url)
        .env(
            "CHATAPP__AUTH__SIGNING_KEY_FILE",
            keys.join("jwt_ed25519.pem"),
        )
        .env("CHATAPP__AUTH__BCRYPT_COST", "4");
    cmd
}

/// A serving role running as its own process.
pub struct ChatappProcess {
    child: Option<Child>,
    pub address: String,
    lines: mpsc::Receiver<String>,
}

impl ChatappProcess {
    /// Starts the command and waits (bounded) for its `listening on http://…` line.
    pub fn start(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn chatapp");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let address = loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(pos) = line.find("listening on http://") {
                        let rest = &line[pos + "listening on ".len()..];
                        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                        break rest[..end].to_owned();
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "chatapp never said it was listening; it printed:\n{}",
                        seen.join("\n")
                    );
                }
            }
        };
        Self {
            child: Some(child),
            address,
            lines: rx,
        }
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit; returns its exit code
    /// and what it logged after the listening line.
    pub fn terminate(mut self) -> (Option<i32>, Vec<String>) {
        let mut child = self.child.take().expect("child");
        let pid = child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait().map(|s| s.code()));
        });
        let Ok(code) = rx.recv_timeout(Duration::from_secs(30)) else {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!("chatapp did not stop within 30 s of SIGTERM");
        };
        let rest = self.lines.try_iter().collect();
        (code.expect("wait for chatapp"), rest)
    }
}

impl ChatappProcess {
    /// [`Self::start`] on a blocking thread, for async code that must not stall meanwhile.
    pub async fn start_async(cmd: Command) -> Self {
        tokio::task::spawn_blocking(move || Self::start(cmd))
            .await
            .expect("start chatapp")
    }

    /// Kills the process with SIGKILL (no drain, no goodbye) and reaps it.
    pub fn kill(mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9 chatapp");
            let _ = child.wait();
        }
    }
}

impl Drop for ChatappProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
