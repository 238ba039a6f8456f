//! Two "VMs" on one machine for the deployment rehearsal: network namespaces on a bridge
//! (or loopback addresses where namespaces cannot be made), a PostgreSQL inside the first,
//! real nginx in each, a throwaway CA, and an HTTPS/WSS client that trusts it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The two VMs: network namespaces on a bridge, or (fallback) two loopback addresses.
pub struct Hosts {
    pub vm1: String,
    pub vm2: String,
    /// (bridge, [namespace of VM #1, namespace of VM #2])
    pub netns: Option<(String, [String; 2])>,
}

pub fn sh(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

impl Hosts {
    pub fn create() -> Self {
        let tag = std::process::id() % 100_000;
        let net = 10 + std::process::id() % 200;
        let bridge = format!("cabr{tag}");
        let names = [format!("chatapp-{tag}-vm1"), format!("chatapp-{tag}-vm2")];
        let mut script = format!(
            "set -e; ip link add {bridge} type bridge; ip addr add 10.231.{net}.1/24 dev {bridge}; ip link set {bridge} up;"
        );
        for (i, ns) in names.iter().enumerate() {
            let veth = format!("cav{tag}{i}");
            script += &format!(
                " ip netns add {ns}; ip link add {veth} type veth peer name eth0 netns {ns};\
                 ip link set {veth} master {bridge} up; ip -n {ns} addr add 10.231.{net}.{}/24 dev eth0;\
                 ip -n {ns} link set eth0 up; ip -n {ns} link set lo up;",
                i + 2
            );
        }
        if sh(&script) {
            return Self {
                vm1: format!("10.231.{net}.2"),
                vm2: format!("10.231.{net}.3"),
                netns: Some((bridge, names)),
            };
        }
        for ns in &names {
            sh(&format!("ip netns del {ns}"));
        }
        sh(&format!("ip link del {bridge}"));
        assert!(
            std::env::var("CI").is_err(),
            "the rehearsal needs network namespaces under CI (root and ip(8))"
        );
        eprintln!(
            "REHEARSAL WITHOUT NAMESPACES: `ip netns` needs root and ip(8); the VMs are 127.0.0.2 and 127.0.0.3"
        );
        Self {
            vm1: "127.0.0.2".into(),
            vm2: "127.0.0.3".into(),
            netns: None,
        }
    }

    /// `program` to run on VM `n` (1 or 2).
    pub fn command(&self, n: usize, program: &str) -> Command {
        match &self.netns {
            Some((_, names)) => {
                let mut cmd = Command::new("ip");
                cmd.args(["netns", "exec", &names[n - 1], program]);
                cmd
            }
            None => Command::new(program),
        }
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        if let Some((bridge, names)) = &self.netns {
            for ns in names {
                sh(&format!(
                    "ip netns pids {ns} | xargs -r kill -9; ip netns del {ns}"
                ));
            }
            sh(&format!("ip link del {bridge}"));
        }
    }
}

pub fn openssl(args: &[&str], dir: &Path) {
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
pub fn throwaway_pki(dir: &Path, ips: [&str; 2]) {
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
        format!("subjectAltName=IP:{},IP:{},DNS:chat.test,DNS:ws.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n", ips[0], ips[1]))
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

pub fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    probe.local_addr().expect("addr").port()
}

/// One nginx with one of the repository's configs, rewritten only where this machine
/// differs from a VM: addresses, ports and file locations.
pub struct Nginx {
    child: Child,
    pub dir: PathBuf,
}

impl Nginx {
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        hosts: &Hosts,
        vm: usize,
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
        let child = hosts
            .command(vm, "nginx")
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
            // Polling for the port: nginx says nothing when it is ready.
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

pub fn tls_client(pki: &Path) -> awc::Client {
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

/// A throwaway PostgreSQL inside VM #1's namespace (127.0.0.1:5432 there).
pub struct NsPostgres {
    dir: tempfile::TempDir,
    pg_ctl: String,
}

impl NsPostgres {
    pub fn start(hosts: &Hosts) -> Self {
        let bin = ["/usr/local/bin", "/usr/bin"]
            .iter()
            .map(|d| d.to_string())
            .chain(
                std::fs::read_dir("/usr/lib/postgresql")
                    .map(|r| {
                        r.filter_map(Result::ok)
                            .map(|e| format!("{}/bin", e.path().display()))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default(),
            )
            .find(|d| {
                Path::new(&format!("{d}/initdb")).exists()
                    && Path::new(&format!("{d}/pg_ctl")).exists()
            })
            .expect("PostgreSQL server binaries (initdb, pg_ctl) for VM #1");
        let dir = tempfile::tempdir().expect("pg dir");
        assert!(
            sh(&format!("chown -R postgres {}", dir.path().display())),
            "a postgres user"
        );
        let data = dir.path().join("data");
        let out = Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                &format!("{bin}/initdb"),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(&data)
            .output()
            .expect("initdb");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pg_ctl = format!("{bin}/pg_ctl");
        let options = format!(
            "-p 5432 -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.path().display()
        );
        let out = hosts
            .command(1, "runuser")
            .args(["-u", "postgres", "--", &pg_ctl, "-w", "-t", "60", "-D"])
            .arg(&data)
            .arg("-l")
            .arg(dir.path().join("pg.log"))
            .args(["-o", &options, "start"])
            .output()
            .expect("pg_ctl start");
        assert!(
            out.status.success(),
            "PostgreSQL on VM #1: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { dir, pg_ctl }
    }
}

impl Drop for NsPostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        sh(&format!(
            "runuser -u postgres -- {} -D {} -m immediate stop",
            self.pg_ctl,
            data.display()
        ));
    }
}

/// `chatapp` on VM `n`, with none of the caller's CHATAPP__ settings.
pub fn chatapp_on(hosts: &Hosts, n: usize, cwd: &Path) -> Command {
    let mut cmd = hosts.command(n, env!("CARGO_BIN_EXE_chatapp"));
    cmd.current_dir(cwd)
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG");
    for (key, _) in std::env::vars() {
        if key.starts_with("CHATAPP__") {
            cmd.env_remove(key);
        }
    }
    cmd
}
