//! The deployment files, checked by the tools that will read them: `nginx -t` on both
//! nginx configs, `systemd-analyze verify` and `security` on the units.

use std::path::Path;
use std::process::Command;

fn repo(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A tool the test needs. Under CI a missing tool fails the test; elsewhere the test says
/// plainly that it did not run and returns.
fn tool(name: &str) -> Option<String> {
    for dir in [
        "/usr/sbin",
        "/usr/bin",
        "/usr/local/sbin",
        "/usr/local/bin",
        "/sbin",
        "/bin",
    ] {
        let path = format!("{dir}/{name}");
        if Path::new(&path).exists() {
            return Some(path);
        }
    }
    assert!(
        std::env::var("CI").is_err(),
        "{name} is needed for this test under CI (scripts/test installs it)"
    );
    eprintln!("NOT RUN: {name} is not installed on this machine");
    None
}

/// A self-signed certificate and key for `nginx -t` (which loads them).
fn certificate(dir: &Path) {
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args(["-days", "1", "-subj", "/CN=chat.test"])
        .arg("-keyout")
        .arg(dir.join("privkey.pem"))
        .arg("-out")
        .arg(dir.join("fullchain.pem"))
        .output()
        .expect("openssl");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
}

#[test]
fn both_nginx_configs_pass_nginx_t() {
    let Some(nginx) = tool("nginx") else { return };
    for name in ["vm1.conf", "vm2.conf"] {
        let dir = tempfile::tempdir().expect("dir");
        certificate(dir.path());
        let d = dir.path().display();
        let site = repo(&format!("nginx/{name}"))
            .replace("/etc/chatapp/tls/", &format!("{d}/"))
            .replace("/var/log/nginx/", &format!("{d}/"));
        std::fs::write(dir.path().join(name), site).expect("write site");
        let main = format!(
            "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  access_log {d}/access.log;\n  \
             include /etc/nginx/mime.types;\n  include {d}/{name};\n}}\n"
        );
        std::fs::write(dir.path().join("nginx.conf"), main).expect("write nginx.conf");
        let out = Command::new(&nginx)
            .arg("-t")
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .output()
            .expect("run nginx -t");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "nginx -t on {name}:\n{said}");
        assert!(said.contains("syntax is ok"), "{said}");
    }
    // The ws access log must never record the query string, which carries the token.
    let vm2 = repo("nginx/vm2.conf");
    let format = vm2
        .split("log_format chatapp_ws")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .expect("a chatapp_ws log format");
    for leak in [
        "$request ",
        "$request'",
        "$args",
        "$query_string",
        "$request_uri",
    ] {
        assert!(!format.contains(leak), "the ws log format records {leak}");
    }
    assert!(
        vm2.contains("proxy_read_timeout 120s"),
        "longer than the 75 s client timeout"
    );
}

#[test]
fn systemd_units_verify_and_are_hardened() {
    let Some(analyze) = tool("systemd-analyze") else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let units = [
        "chatapp-front.service",
        "chatapp-auth.service",
        "chatapp-ws.service",
        "chatapp-migrate.service",
    ];
    for unit in units {
        let text = repo(&format!("systemd/{unit}"))
            .replace("/usr/local/bin/chatapp", env!("CARGO_BIN_EXE_chatapp"));
        std::fs::write(dir.path().join(unit), text).expect("write unit");
    }
    for unit in units {
        let path = dir.path().join(unit);
        let out = Command::new(&analyze)
            .arg("verify")
            .arg(&path)
            .output()
            .expect("verify");
        let said = String::from_utf8_lossy(&out.stderr);
        // verify exits 0 on unknown keys too: any complaint about our file fails the test.
        let ours: Vec<&str> = said.lines().filter(|l| l.contains(unit)).collect();
        assert!(out.status.success() && ours.is_empty(), "{unit}:\n{said}");

        let out = Command::new(&analyze)
            .args(["security", "--offline=true"])
            .arg(&path)
            .output()
            .expect("security");
        let report = String::from_utf8_lossy(&out.stdout);
        let level: f64 = report
            .lines()
            .find_map(|l| l.split("Overall exposure level for ").nth(1))
            .and_then(|l| l.split(':').nth(1))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no exposure level for {unit}:\n{report}"));
        assert!(
            level <= 2.0,
            "{unit} is exposed at level {level}:\n{report}"
        );
        let text = repo(&format!("systemd/{unit}"));
        for needed in [
            "User=chatapp",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "PrivateTmp=yes",
            "CapabilityBoundingSet=\n",
            "EnvironmentFile=/etc/chatapp/chatapp.env",
        ] {
            assert!(text.contains(needed), "{unit} lacks {needed:?}");
        }
    }
    let ws = repo("systemd/chatapp-ws.service");
    assert!(ws.contains("LimitNOFILE=524288") && ws.contains("Restart=on-failure"));
}
