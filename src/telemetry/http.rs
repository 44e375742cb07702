//! The HTTP admin surface shared by every role: `/health` answers 200 with a
//! small JSON status while the role is serving (503 once it stops), and
//! `/metrics` renders Prometheus text. Roles merge their own routes in.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use parking_lot::RwLock;
use serde_json::{json, Map, Value};

/// What `/health` reports. Roles update the detail fields as they work.
#[derive(Default)]
pub struct Health {
    serving: std::sync::atomic::AtomicBool,
    details: RwLock<Map<String, Value>>,
}

impl Health {
    /// A health record for `role`, not yet serving.
    pub fn new(role: &str) -> Arc<Self> {
        let health = Health::default();
        health.details.write().insert("role".into(), json!(role));
        Arc::new(health)
    }

    /// Marks the role as serving (200) or stopping (503).
    pub(crate) fn set_serving(&self, serving: bool) {
        self.serving
            .store(serving, std::sync::atomic::Ordering::SeqCst);
    }

    /// Sets one detail field shown by `/health`.
    pub fn set(&self, key: &str, value: impl Into<Value>) {
        self.details.write().insert(key.to_string(), value.into());
    }

    /// The current report.
    pub fn report(&self) -> (bool, Value) {
        let serving = self.serving.load(std::sync::atomic::Ordering::SeqCst);
        let mut body = self.details.read().clone();
        body.insert(
            "status".into(),
            json!(if serving { "ok" } else { "unavailable" }),
        );
        (serving, Value::Object(body))
    }
}

#[derive(Clone)]
struct AdminState {
    health: Arc<Health>,
    metrics: PrometheusHandle,
}

/// `/health` and `/metrics` for one role.
pub fn admin_router(health: Arc<Health>, metrics: PrometheusHandle) -> Router {
    Router::new()
        .route("/health", get(health_handler))
        .route("/metrics", get(metrics_handler))
        .with_state(AdminState { health, metrics })
}

async fn health_handler(State(state): State<AdminState>) -> impl IntoResponse {
    let (serving, body) = state.health.report();
    let code = if serving {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

async fn metrics_handler(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
}

/// Serves `router` on a bound listener until `shutdown` resolves (the
/// caller spawns it where it tracks its tasks).
pub async fn serve_http(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "HTTP server stopped");
    }
}
