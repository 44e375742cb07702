//! Read-only views computed from the registry: topology edges, pipeline
//! health, and the health report with recommendations (seed 003).

use std::collections::HashMap;
use std::time::SystemTime;

use serde_json::{json, Value};

use super::flow::FlowControl;
use super::registry::Registry;
use crate::flowctl::proto::flowctl::ServiceType;
use crate::flowctl::proto::stellarflow::v1::{
    PipelineHealth, ServiceHealth, Topology, TopologyEdge,
};

/// Most edges a topology lists. Edges are producer × consumer pairs, so
/// a registry of many services of one kind could imply millions; beyond
/// this the list is cut and marked `truncated`, with the true count.
pub(crate) const MAX_TOPOLOGY_EDGES: usize = 10_000;

/// source -> processor -> sink edges: one per producer/consumer pair that
/// share an event type. Built through an index of producers by event
/// type, so the cost is linear in services plus the edges listed.
pub fn topology(registry: &Registry) -> Topology {
    let services = registry.records();
    let infos: Vec<_> = services.iter().filter_map(|r| r.info.as_ref()).collect();
    let mut producers: HashMap<&str, Vec<&str>> = HashMap::new();
    for info in &infos {
        for event_type in &info.output_event_types {
            producers
                .entry(event_type.as_str())
                .or_default()
                .push(info.service_id.as_str());
        }
    }
    let mut edges = Vec::new();
    let mut total_edges: u64 = 0;
    for consumer in &infos {
        for event_type in &consumer.input_event_types {
            for producer in producers.get(event_type.as_str()).into_iter().flatten() {
                if *producer == consumer.service_id {
                    continue;
                }
                total_edges += 1;
                if edges.len() < MAX_TOPOLOGY_EDGES {
                    edges.push(TopologyEdge {
                        from_service_id: producer.to_string(),
                        to_service_id: consumer.service_id.clone(),
                        event_type: event_type.clone(),
                    });
                }
            }
        }
    }
    edges.sort_by(|a, b| {
        (&a.from_service_id, &a.to_service_id).cmp(&(&b.from_service_id, &b.to_service_id))
    });
    Topology {
        truncated: total_edges > edges.len() as u64,
        total_edges,
        services,
        edges,
    }
}

/// healthy when every service is, degraded when some are, unhealthy when
/// none are (or none are registered).
pub(crate) fn pipeline_health(registry: &Registry) -> PipelineHealth {
    let now = SystemTime::now();
    let mut services: Vec<ServiceHealth> = registry
        .entries()
        .into_iter()
        .map(|e| {
            let (inflight, max) = e.load();
            ServiceHealth {
                service_id: e.info.service_id.clone(),
                service_type: e.info.service_type,
                is_healthy: e.healthy,
                seconds_since_heartbeat: now
                    .duration_since(e.last_heartbeat)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0),
                load_ratio: if max > 0.0 { inflight / max } else { 0.0 },
            }
        })
        .collect();
    services.sort_by(|a, b| a.service_id.cmp(&b.service_id));
    let healthy = services.iter().filter(|s| s.is_healthy).count();
    let overall = if services.is_empty() || healthy == 0 {
        "unhealthy"
    } else if healthy == services.len() {
        "healthy"
    } else {
        "degraded"
    };
    PipelineHealth {
        overall_status: overall.into(),
        healthy_services: healthy as u32,
        total_services: services.len() as u32,
        services,
        at: Some(now.into()),
    }
}

/// The health report of `/api/health-report`: pipeline health, flow
/// control, throughput and concrete recommendations.
pub(crate) fn health_report(registry: &Registry, flow: &FlowControl) -> Value {
    let health = pipeline_health(registry);
    let signal = flow.current();
    let mut recommendations = Vec::new();
    if signal.backpressure_active {
        recommendations
            .push("Backpressure is active: consider scaling up downstream services".to_string());
    }
    let mut throughput = 0.0;
    let mut latency: f64 = 0.0;
    for entry in registry.entries() {
        let id = &entry.info.service_id;
        let (inflight, max) = entry.load();
        if max > 0.0 && inflight / max > 0.8 {
            recommendations.push(format!(
                "Service {id} at {:.0}% capacity, consider scaling",
                100.0 * inflight / max
            ));
        }
        let metric = |name: &str| entry.metrics.get(name).copied().unwrap_or(0.0);
        let work = metric("ledgers_processed_total").max(metric("events_processed_total"));
        if work > 0.0 && metric("errors_total") / work > 0.05 {
            recommendations.push(format!(
                "Service {id} has an elevated error rate, investigate its logs"
            ));
        }
        if !entry.healthy {
            recommendations.push(format!(
                "Service {id} has missed its heartbeats; check that it is running"
            ));
        }
        throughput += metric("events_per_second");
        latency = latency.max(metric("pipeline_latency_seconds"));
    }
    if latency > 5.0 {
        recommendations.push(format!(
            "End-to-end latency is {latency:.1}s: check for bottlenecks in the pipeline"
        ));
    }
    let service_type = |t: i32| {
        ServiceType::try_from(t)
            .map(|t| t.as_str_name())
            .unwrap_or("?")
    };
    json!({
        "overall_status": health.overall_status,
        "healthy_services": health.healthy_services,
        "total_services": health.total_services,
        "services": health.services.iter().map(|s| json!({
            "service_id": s.service_id,
            "service_type": service_type(s.service_type),
            "is_healthy": s.is_healthy,
            "seconds_since_heartbeat": s.seconds_since_heartbeat,
            "load_ratio": s.load_ratio,
        })).collect::<Vec<_>>(),
        "flow_control": {
            "backpressure_active": signal.backpressure_active,
            "global_load": signal.global_load,
            "throttle_rate": signal.throttle_rate,
            "reason": signal.reason,
        },
        "throughput_events_per_second": throughput,
        "latency_seconds": latency,
        "recommendations": recommendations,
    })
}
