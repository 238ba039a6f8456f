//! `GET /healthz`: 200 when this role can do its job, 503 with a JSON reason otherwise.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::storage::Db;

/// What a role depends on; each present dependency is checked on every call.
#[derive(Clone, Default)]
pub struct HealthChecks {
    pub role: &'static str,
    pub database: Option<Db>,
    /// The Redis bus of a `ws` node: when it is down the node still serves its own clients,
    /// so `/healthz` answers 200 `degraded`.
    pub bus: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub fn configure(checks: HealthChecks) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(checks))
            .route("/healthz", web::get().to(healthz));
    }
}

async fn healthz(checks: web::Data<HealthChecks>) -> HttpResponse {
    let mut results = serde_json::Map::new();
    let mut failure: Option<String> = None;
    if let Some(db) = &checks.database {
        let outcome = match tokio::time::timeout(CHECK_TIMEOUT, db.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
        };
        match outcome {
            Ok(()) => {
                results.insert("database".into(), json!("ok"));
            }
            Err(detail) => {
                tracing::warn!(%detail, "health check: database is down");
                results.insert("database".into(), json!("down"));
                failure.get_or_insert_with(|| "the database is unreachable".into());
            }
        }
    }
    let mut degraded = false;
    if let Some(up) = &checks.bus {
        let up = up.load(std::sync::atomic::Ordering::Relaxed);
        results.insert("bus".into(), json!(if up { "ok" } else { "down" }));
        degraded = !up;
    }
    match failure {
        None => HttpResponse::Ok().json(json!({
            "status": if degraded { "degraded" } else { "ok" },
            "role": checks.role,
            "checks": results,
        })),
        Some(reason) => HttpResponse::ServiceUnavailable().json(json!({
            "status": "unavailable",
            "role": checks.role,
            "checks": results,
            "error": {"code": "dependency_down", "message": reason},
        })),
    }
}
