//! `spawn_app()`: a real chatapp server for one role, in this process, on a free port.

use chatapp::config::Settings;
use chatapp::server::{AppHandle, Application, Role};
use secrecy::SecretString;
use tempfile::TempDir;

use super::{Backend, TestDb};

pub struct TestApp {
    pub address: String,
    pub db: Option<TestDb>,
    pub data_dir: TempDir,
    pub client: awc::Client,
    /// Web Push, on a role serving `front`.
    pub push: Option<chatapp::push::PushService>,
    handle: AppHandle,
}

/// Settings for a test: a private data directory, cheap bcrypt, quick database time-outs,
/// open registration (the tests of invitations set `invite` themselves).
pub fn test_settings(data_dir: &TempDir, db: Option<&TestDb>) -> Settings {
    let mut settings = Settings {
        data_dir: data_dir.path().to_owned(),
        ..Settings::default()
    };
    settings.database.url = db.map(|db| SecretString::from(db.url.clone()));
    settings.database.connect_timeout_secs = 2;
    settings.auth.bcrypt_cost = 4;
    settings.auth.registration = chatapp::domain::Registration::Open;
    settings
}

/// Starts `role` against a fresh, migrated database of the given backend (`ws`: none).
pub async fn spawn_app(role: Role, backend: Backend) -> TestApp {
    spawn_app_with(role, backend, |_| {}).await
}

/// As [`spawn_app`], with the settings adjusted by `customize` before the start.
/// A split `front` gets a fresh public key and an `auth_url` no one answers at, unless
/// `customize` sets its own.
pub async fn spawn_app_with(
    role: Role,
    backend: Backend,
    customize: impl FnOnce(&mut Settings),
) -> TestApp {
    super::init_test_log();
    let db = (role != Role::Ws).then(|| {
        let db = TestDb::empty(backend);
        if role != Role::All {
            db.migrated(1);
        }
        db
    });
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut settings = test_settings(&data_dir, db.as_ref());
    if matches!(role, Role::Front | Role::Ws) {
        let pair = chatapp::tokens::KeyPair::generate().expect("key pair");
        let (_, public) = pair.write_to(data_dir.path(), false).expect("write keys");
        settings.jwt.public_key_file = Some(public);
        settings.front.auth_url = Some("http://127.0.0.1:9".into());
        settings.ws.front_url = Some("http://127.0.0.1:9".into());
        settings.internal.token = Some(SecretString::from("test-service-credential"));
    }
    customize(&mut settings);
    let app = Application::build(role, &settings, Some("127.0.0.1:0"))
        .await
        .expect("build the application");
    let port = app.port();
    let handle = app.handle();
    let push = app.push().cloned();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        db,
        data_dir,
        client: awc::Client::builder().disable_redirects().finish(),
        push,
        handle,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// GET `path`; returns the status and the body parsed as JSON (Null if it is not JSON).
    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let mut response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        let body = response.body().await.expect("body");
        let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        (response.status().as_u16(), json)
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let mut response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        let body = response.body().limit(16 << 20).await.expect("body");
        (
            response.status().as_u16(),
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    /// POST a JSON body; returns the status, the body as JSON (Null if not JSON) and the
    /// response headers.
    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value, awc::http::header::HeaderMap) {
        let mut response = self
            .client
            .post(self.url(path))
            .send_json(body)
            .await
            .expect("request");
        let bytes = response.body().await.expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (response.status().as_u16(), json, response.headers().clone())
    }

    /// GET with `Authorization: Bearer <token>`.
    pub async fn get_with_token(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        let mut response = self
            .client
            .get(self.url(path))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .send()
            .await
            .expect("request");
        let bytes = response.body().await.expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (response.status().as_u16(), json)
    }

    /// A request with `Authorization: Bearer <token>` and a JSON body (or none); returns
    /// the status and the body as JSON (Null if not JSON).
    pub async fn send_with_token(
        &self,
        method: awc::http::Method,
        path: &str,
        token: &str,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let request = self
            .client
            .request(method, self.url(path))
            .insert_header(("Authorization", format!("Bearer {token}")));
        let mut response = match body {
            Some(body) => request.send_json(body).await,
            None => request.send().await,
        }
        .expect("request");
        let bytes = response.body().await.expect("body");
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (response.status().as_u16(), json)
    }

    /// POST a JSON body with `Authorization: Bearer <token>`.
    pub async fn post_with_token(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.send_with_token(awc::http::Method::POST, path, token, Some(body))
            .await
    }

    /// Registers a user through the auth API; panics unless it answers 201.
    pub async fn register(&self, username: &str, password: &str) -> i64 {
        let body = serde_json::json!({"username": username, "password": password});
        let (status, json, _) = self.post_json("/auth/api/register", &body).await;
        assert_eq!(status, 201, "register {username}: {json}");
        json["id"].as_i64().expect("id")
    }

    /// Signs in through the auth API and returns the access token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let body = serde_json::json!({"username": username, "password": password});
        let (status, json, _) = self.post_json("/auth/api/login", &body).await;
        assert_eq!(status, 200, "login {username}: {json}");
        json["access_token"].as_str().expect("token").to_owned()
    }

    pub async fn stop(&self) {
        self.handle.stop().await;
    }

    /// Stops the server as SIGTERM does, from another task.
    pub fn handle(&self) -> AppHandle {
        self.handle.clone()
    }
}
