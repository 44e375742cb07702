//! The control plane's HTTP admin surface: `/health` and `/metrics` (shared
//! with every role), `/api/services`, `/api/topology`, `/api/health-report`,
//! `/api/flow-control` as JSON, and the dashboard page at `/`.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::flow::FlowControl;
use super::registry::Registry;
use super::view;
use crate::flowctl::proto::flowctl::ServiceType;
use crate::flowctl::proto::stellarflow::v1::ServiceRecord;

#[derive(Clone)]
struct ApiState {
    registry: Arc<Registry>,
    flow: Arc<FlowControl>,
}

/// Routes added to the shared admin router.
pub(crate) fn api_router(registry: Arc<Registry>, flow: Arc<FlowControl>) -> Router {
    Router::new()
        .route("/", get(dashboard))
        .route("/api/services", get(services))
        .route("/api/topology", get(topology))
        .route("/api/health-report", get(health_report))
        .route("/api/flow-control", get(flow_control))
        .with_state(ApiState { registry, flow })
}

fn timestamp(t: &Option<prost_types::Timestamp>) -> Value {
    t.as_ref()
        .and_then(|t| SystemTime::try_from(*t).ok())
        .map(|t| json!(chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339()))
        .unwrap_or(Value::Null)
}

/// One registry record as JSON.
pub(crate) fn record_json(record: &ServiceRecord) -> Value {
    let info = record.info.clone().unwrap_or_default();
    let status = record.status.clone().unwrap_or_default();
    json!({
        "service_id": info.service_id,
        "service_type": ServiceType::try_from(info.service_type).map(|t| t.as_str_name()).unwrap_or("?"),
        "component_id": info.component_id,
        "input_event_types": info.input_event_types,
        "output_event_types": info.output_event_types,
        "health_endpoint": info.health_endpoint,
        "max_inflight": info.max_inflight,
        "metadata": info.metadata,
        "is_healthy": status.is_healthy,
        "last_heartbeat": timestamp(&status.last_heartbeat),
        "registered_at": timestamp(&record.registered_at),
        "metrics": status.metrics,
    })
}

async fn services(State(state): State<ApiState>) -> impl IntoResponse {
    let records = state.registry.records();
    Json(json!({ "services": records.iter().map(record_json).collect::<Vec<_>>() }))
}

/// The topology with each service summarised (no metadata or metrics,
/// which `/api/services` has), so the reply stays linear in services.
async fn topology(State(state): State<ApiState>) -> impl IntoResponse {
    let topology = view::topology(&state.registry);
    let summary = |record: &ServiceRecord| {
        let info = record.info.clone().unwrap_or_default();
        json!({
            "service_id": info.service_id,
            "service_type": ServiceType::try_from(info.service_type).map(|t| t.as_str_name()).unwrap_or("?"),
            "component_id": info.component_id,
            "flight_endpoint": info.metadata.get(crate::flowctl::FLIGHT_ENDPOINT_KEY),
            "is_healthy": record.status.as_ref().is_some_and(|s| s.is_healthy),
        })
    };
    Json(json!({
        "services": topology.services.iter().map(summary).collect::<Vec<_>>(),
        "edges": topology.edges.iter().map(|e| json!({
            "from": e.from_service_id, "to": e.to_service_id, "event_type": e.event_type,
        })).collect::<Vec<_>>(),
        "total_edges": topology.total_edges,
        "truncated": topology.truncated,
    }))
}

async fn health_report(State(state): State<ApiState>) -> impl IntoResponse {
    Json(view::health_report(&state.registry, &state.flow))
}

async fn flow_control(State(state): State<ApiState>) -> impl IntoResponse {
    let s = state.flow.current();
    Json(json!({
        "backpressure_active": s.backpressure_active,
        "global_load": s.global_load,
        "throttle_rate": s.throttle_rate,
        "reason": s.reason,
    }))
}

async fn dashboard() -> impl IntoResponse {
    Html(include_str!("dashboard.html"))
}
