//! The harness: test databases, in-process servers, and the binary as a child process.

mod app;
mod browser;
mod db;
mod postgres;
mod process;
mod proxy;
mod push_service;
mod redis;
mod screens;
pub mod vms;
pub mod webdriver;
mod ws;

pub use app::{TestApp, spawn_app, spawn_app_with};
pub use browser::Browser;
pub use db::{Backend, TestDb};
pub use postgres::OwnPostgres;
pub use process::{ChatappProcess, auth_role, chatapp_cmd};
pub use proxy::{DelayProxy, LossyProxy, StallingProxy};
pub use push_service::{Behaviour, Device, PushReceiver};
pub use redis::{OwnRedis, free_port};
pub use screens::Size;
pub use ws::{Ended, WsClient};

/// Runs a test body once per backend, as two tests named `sqlite` and `postgres`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$body($crate::helpers::Backend::Sqlite).await
            }

            #[actix_web::test]
            async fn postgres() {
                super::$body($crate::helpers::Backend::Postgres).await
            }
        }
    };
}

/// Logs from the code under test, only when `TEST_LOG` is set.
pub fn init_test_log() {
    if std::env::var_os("TEST_LOG").is_some() {
        let settings = chatapp::config::LogSettings {
            filter: "debug".into(),
            format: chatapp::config::LogFormat::Text,
        };
        let _ = chatapp::telemetry::init(&settings);
    }
}
