//! /healthz, /metrics and the error shape on every role, over real sockets.

use chatapp::server::Role;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

async fn all_is_healthy_and_measured(backend: Backend) {
    let app = spawn_app(Role::All, backend).await;
    let (status, body) = app.get_json("/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["database"], "ok");

    let (status, body) = app.get_json("/no/such/page").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    assert!(body["error"]["message"].is_string());

    let (status, metrics) = app.get_text("/metrics").await;
    assert_eq!(status, 200);
    let healthz_count = metrics
        .lines()
        .find(|l| {
            l.starts_with("chatapp_http_requests_total{")
                && l.contains("endpoint=\"/healthz\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no request counter for /healthz:\n{metrics}"));
    assert!(healthz_count.ends_with(" 1"), "{healthz_count}");
    assert!(metrics.contains("chatapp_http_requests_duration_seconds_bucket"));
    assert!(metrics.contains("process_resident_memory_bytes"));
    app.stop().await;
}
both_backends!(all_health_and_metrics, all_is_healthy_and_measured);

#[actix_web::test]
async fn healthz_says_503_with_a_reason_when_the_database_is_gone() {
    let mut app = spawn_app(Role::Front, Backend::Postgres).await;
    let (status, _) = app.get_json("/healthz").await;
    assert_eq!(status, 200);

    app.db.as_mut().expect("front has a database").drop_now();
    let (status, body) = app.get_json("/healthz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["database"], "down");
    assert_eq!(body["error"]["code"], "dependency_down");
    app.stop().await;
}

#[actix_web::test]
async fn every_serving_role_answers_healthz_and_metrics() {
    for role in [Role::Front, Role::Ws] {
        let app = spawn_app(role, Backend::Sqlite).await;
        let (status, body) = app.get_json("/healthz").await;
        assert_eq!(status, 200, "{role:?}: {body}");
        assert_eq!(body["role"], role.name());
        let (status, metrics) = app.get_text("/metrics").await;
        assert_eq!(status, 200);
        assert!(
            metrics.contains(&format!("role=\"{}\"", role.name())),
            "{metrics}"
        );
        app.stop().await;
    }
}
