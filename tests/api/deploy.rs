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

/// One fenced ```toml block of docs/deploy.md, by its first line (`# VM #1`, `# VM #2`).
fn documented_config(first_line: &str) -> config::Config {
    let doc = repo("docs/deploy.md");
    let block = doc
        .split("```toml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .find(|block| block.starts_with(first_line))
        .unwrap_or_else(|| panic!("docs/deploy.md has no toml block for {first_line}"));
    config::Config::builder()
        .add_source(config::File::from_str(block, config::FileFormat::Toml))
        .build()
        .expect("the documented configuration is TOML")
}

/// `host:port` → (host, port).
fn split_addr(addr: &str) -> (String, u16) {
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    (host.to_owned(), port.parse().expect("port"))
}

/// Whether a server bound to `bind` answers a connection to `to` (`host:port`) made on its
/// own machine or, for a private address, from the other VM.
fn answers(bind: &str, to: &str) -> bool {
    let (bind_host, bind_port) = split_addr(bind);
    let (to_host, to_port) = split_addr(to);
    bind_port == to_port && (bind_host == "0.0.0.0" || bind_host == to_host)
}

fn upstreams(conf: &str, name: &str) -> Vec<String> {
    let start = conf
        .find(&format!("upstream {name} {{"))
        .unwrap_or_else(|| panic!("no upstream {name}"));
    conf[start..]
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().starts_with('}'))
        .filter_map(|l| l.trim().strip_prefix("server "))
        .map(|l| {
            l.trim_end_matches(';')
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

/// The documented deployment works as documented: every address someone connects to (nginx's
/// upstreams, `front`'s `auth_url` and `ws_url`, `ws`'s `front_url`, the deploy workflow's
/// health checks) is one the documented `bind` answers, and nginx is a trusted proxy. (The
/// docs once bound `front` to 10.0.0.1 while nginx and the workflow used 127.0.0.1: every
/// deploy would have answered 502 and rolled back.)
#[test]
fn docs_nginx_and_the_deploy_workflow_agree_on_addresses() {
    let vm1 = documented_config("# VM #1");
    let vm2 = documented_config("# VM #2");
    let get =
        |c: &config::Config, key: &str| c.get_string(key).unwrap_or_else(|e| panic!("{key}: {e}"));
    let front_bind = get(&vm1, "front.bind");
    let auth_bind = get(&vm1, "auth.bind");
    let ws_bind = get(&vm2, "ws.bind");
    let host_port = |url: &str| {
        let url = url::Url::parse(url).expect("url");
        format!(
            "{}:{}",
            url.host_str().expect("host"),
            url.port_or_known_default().expect("port")
        )
    };

    let nginx1 = repo("nginx/vm1.conf");
    let nginx2 = repo("nginx/vm2.conf");
    for upstream in upstreams(&nginx1, "chatapp_front") {
        assert!(
            answers(&front_bind, &upstream),
            "nginx reaches front at {upstream}, bound to {front_bind}"
        );
    }
    for upstream in upstreams(&nginx1, "chatapp_auth") {
        assert!(
            answers(&auth_bind, &upstream),
            "nginx reaches auth at {upstream}, bound to {auth_bind}"
        );
    }
    let ws_upstreams = upstreams(&nginx2, "chatapp_ws");
    assert!(!ws_upstreams.is_empty());
    assert!(
        answers(&ws_bind, &ws_upstreams[0]),
        "nginx reaches ws at {}, bound to {ws_bind}",
        ws_upstreams[0]
    );

    let auth_url = host_port(&get(&vm1, "front.auth_url"));
    assert!(
        answers(&auth_bind, &auth_url),
        "front reaches auth at {auth_url}"
    );
    let ws_url = host_port(&get(&vm1, "front.ws_url"));
    assert!(answers(&ws_bind, &ws_url), "front reaches ws at {ws_url}");
    let front_url = host_port(&get(&vm2, "ws.front_url"));
    assert!(
        answers(&front_bind, &front_url),
        "ws reaches front at {front_url}"
    );

    // The deploy workflow's health checks, run on each VM.
    let workflow = repo(".github/workflows/deploy.yml");
    let checked: Vec<String> = workflow
        .split("http://")
        .skip(1)
        .filter_map(|rest| rest.split("/healthz").next())
        .map(str::to_owned)
        .collect();
    assert!(checked.len() >= 3, "{checked:?}");
    for addr in &checked {
        let ok = [&front_bind, &auth_bind, &ws_bind]
            .iter()
            .any(|bind| answers(bind, addr));
        assert!(
            ok,
            "the deploy workflow checks {addr}, which no documented bind answers"
        );
    }

    // nginx forwards from 127.0.0.1 on both VMs: the client address is believed from it.
    for c in [&vm1, &vm2] {
        let trusted = c
            .get_array("http.trusted_proxies")
            .expect("trusted_proxies");
        let trusted: Vec<String> = trusted
            .into_iter()
            .filter_map(|v| v.into_string().ok())
            .collect();
        assert!(trusted.iter().any(|p| p == "127.0.0.1"), "{trusted:?}");
    }
}
