//! Real headless Chromium through chromedriver's W3C WebDriver API (plain JSON over HTTP,
//! with awc): enough to drive the chat page as a person would and take screenshots.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_binary(env: &str, names: &[&str]) -> String {
    if let Ok(path) = std::env::var(env) {
        return path;
    }
    for name in names {
        for dir in ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"] {
            let path = format!("{dir}/{name}");
            if std::path::Path::new(&path).exists() {
                return path;
            }
        }
    }
    panic!(
        "{} is needed for the browser tests and was not found (set {env}); scripts/test \
         installs Debian's chromium and chromium-driver",
        names[0]
    );
}

/// A chromedriver process on a free port; stopped when dropped.
pub struct Driver {
    child: Child,
    pub base: String,
    client: awc::Client,
}

impl Driver {
    pub async fn start() -> Self {
        let chromedriver = find_binary("CHATAPP_TEST_CHROMEDRIVER", &["chromedriver"]);
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        let port = probe.local_addr().expect("addr").port();
        drop(probe);
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            client: awc::Client::builder()
                .timeout(Duration::from_secs(60))
                .finish(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut r) = driver
                .client
                .get(format!("{}/status", driver.base))
                .send()
                .await
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == true
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        driver
    }

    /// A new browser window with its own profile.
    pub async fn browser(&self, width: u32, height: u32) -> Browser {
        let chromium = find_binary("CHATAPP_TEST_CHROMIUM", &["chromium", "chromium-browser"]);
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={width},{height}"),
                ]
            }
        }}});
        let reply = call(
            &self.client,
            "POST",
            &format!("{}/session", self.base),
            Some(caps),
        )
        .await;
        let session = reply["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver gave no session: {reply}"))
            .to_owned();
        Browser {
            url: format!("{}/session/{session}", self.base),
            client: self.client.clone(),
            _profile: profile,
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn call(client: &awc::Client, method: &str, url: &str, body: Option<Value>) -> Value {
    let request = match method {
        "GET" => client.get(url),
        "DELETE" => client.delete(url),
        _ => client.post(url),
    };
    let mut response = match body {
        Some(body) => request.send_json(&body).await,
        None if method == "POST" => request.send_json(&json!({})).await,
        None => request.send().await,
    }
    .unwrap_or_else(|e| panic!("WebDriver {method} {url}: {e}"));
    let value: Value = response
        .json()
        .limit(64 << 20)
        .await
        .expect("WebDriver JSON");
    value
}

pub struct Browser {
    url: String,
    client: awc::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn post(&self, path: &str, body: Value) -> Value {
        call(
            &self.client,
            "POST",
            &format!("{}{path}", self.url),
            Some(body),
        )
        .await
    }

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
    }

    /// Runs JavaScript in the page and returns its result.
    pub async fn js(&self, script: &str, args: Value) -> Value {
        let v = self
            .post("/execute/sync", json!({"script": script, "args": args}))
            .await;
        if v["value"].get("error").is_some() {
            panic!("script failed: {}", v["value"]);
        }
        v["value"].clone()
    }

    /// Waits (up to 20 s) until `condition` (a JS expression) is true.
    pub async fn wait_for(&self, condition: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self
                .js(&format!("return Boolean({condition});"), json!([]))
                .await;
            if v == true {
                return;
            }
            if Instant::now() > deadline {
                let path = self.screenshot("timeout").await;
                panic!("waited 20 s for `{condition}`; screenshot: {path}");
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn element(&self, css: &str) -> String {
        let v = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        v["value"][ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {}", v["value"]))
            .to_owned()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.post(&format!("/element/{id}/value"), json!({"text": text}))
            .await;
    }

    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.post(&format!("/element/{id}/click"), json!({})).await;
    }

    /// The open alert's text, if a script opened one.
    pub async fn alert(&self) -> Option<String> {
        let v = call(
            &self.client,
            "GET",
            &format!("{}/alert/text", self.url),
            None,
        )
        .await;
        v["value"].as_str().map(str::to_owned)
    }

    /// Saves a PNG under target/screenshots/ and returns its path.
    pub async fn screenshot(&self, name: &str) -> String {
        use base64::Engine;
        let v = call(
            &self.client,
            "GET",
            &format!("{}/screenshot", self.url),
            None,
        )
        .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v["value"].as_str().unwrap_or_default())
            .unwrap_or_default();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path.display().to_string()
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({"width": width, "height": height}))
            .await;
    }

    /// Emulates a device screen of this size: Chromium's windows are never narrower than
    /// about 500 px, so a phone's width needs the DevTools protocol (through chromedriver).
    pub async fn emulate_screen(&self, width: u32, height: u32) {
        let v = self
            .post(
                "/goog/cdp/execute",
                json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": {
                    "width": width, "height": height, "deviceScaleFactor": 1, "mobile": true,
                }}),
            )
            .await;
        assert!(
            v["value"].get("error").is_none(),
            "screen emulation failed: {v}"
        );
    }

    pub async fn quit(self) {
        call(&self.client, "DELETE", &self.url, None).await;
    }

    /// Registers through the form and lands on the chat page, connected.
    pub async fn register(&self, base: &str, username: &str, password: &str) {
        self.goto(&format!("{base}/auth/register")).await;
        self.type_into("#username", username).await;
        self.type_into("#password", password).await;
        self.type_into("#password_confirm", password).await;
        self.click("form button[type=submit]").await;
        self.wait_for(
            "document.querySelector('[data-role=connection-state]')?.dataset.state === 'connected'",
        )
        .await;
    }

    /// Types a message into the composer and presses Enter.
    pub async fn say(&self, text: &str) {
        self.type_into("[data-role=composer]", &format!("{text}\u{E007}"))
            .await;
    }

    /// The texts of the stored messages on the page, in order.
    pub async fn messages(&self) -> Vec<String> {
        let v = self
            .js(
                "return [...document.querySelectorAll('[data-role=message] .content')].map(e => e.textContent);",
                json!([]),
            )
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}
