//! `spawn_app()`: a real chatapp server for one role, in this process, on a free port.

use actix_web::dev::ServerHandle;
use chatapp::config::Settings;
use chatapp::server::{Application, Role};
use secrecy::SecretString;
use tempfile::TempDir;

use super::{Backend, TestDb};

pub struct TestApp {
    pub address: String,
    pub db: Option<TestDb>,
    _data_dir: TempDir,
    pub client: awc::Client,
    handle: ServerHandle,
}

/// Settings for a test: a private data directory, cheap bcrypt, quick database time-outs.
pub fn test_settings(data_dir: &TempDir, db: Option<&TestDb>) -> Settings {
    let mut settings = Settings {
        data_dir: data_dir.path().to_owned(),
        ..Settings::default()
    };
    settings.database.url = db.map(|db| SecretString::from(db.url.clone()));
    settings.database.connect_timeout_secs = 2;
    settings.auth.bcrypt_cost = 4;
    settings
}

/// Starts `role` against a fresh, migrated database of the given backend (`ws`: none).
pub async fn spawn_app(role: Role, backend: Backend) -> TestApp {
    super::init_test_log();
    let db = (role != Role::Ws).then(|| {
        let db = TestDb::empty(backend);
        if role != Role::All {
            db.migrated(1);
        }
        db
    });
    let data_dir = tempfile::tempdir().expect("temp dir");
    let settings = test_settings(&data_dir, db.as_ref());
    let app = Application::build(role, &settings, Some("127.0.0.1:0"))
        .await
        .expect("build the application");
    let port = app.port();
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        db,
        _data_dir: data_dir,
        client: awc::Client::default(),
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

    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}
