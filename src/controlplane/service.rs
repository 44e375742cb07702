//! The gRPC services: `flowctl.ControlPlane` (wire-compatible with flowctl)
//! and `stellarflow.v1.ControlPlaneExtensions`, both thin adapters over the
//! registry that map its errors to proper status codes.

use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use futures::{Stream, StreamExt};
use tokio_stream::wrappers::{BroadcastStream, WatchStream};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::flow::FlowControl;
use super::registry::{Registry, RegistryError};
use super::view;
use crate::flowctl::proto::flowctl::control_plane_server::ControlPlane;
use crate::flowctl::proto::flowctl::{
    RegistrationAck, ServiceHeartbeat, ServiceInfo, ServiceList, ServiceStatus, ServiceType,
};
use crate::flowctl::proto::stellarflow::v1::control_plane_extensions_server::ControlPlaneExtensions;
use crate::flowctl::proto::stellarflow::v1::{
    service_event::Kind, DeregisterRequest, FlowControlSignal, PipelineHealth, ServiceEvent,
    ServiceRecordList, Topology, WatchServicesRequest,
};
use crate::telemetry::LatencyTimer;

const RPC_HISTOGRAM: &str = "flowctl_rpc_duration_seconds";

impl From<RegistryError> for Status {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::InvalidArgument(m) => Status::invalid_argument(m),
            RegistryError::NotFound(m) => Status::not_found(m),
            RegistryError::ResourceExhausted(m) => Status::resource_exhausted(m),
        }
    }
}

/// Implements both services over one registry.
#[derive(Clone)]
pub struct ControlPlaneService {
    registry: Arc<Registry>,
    flow: Arc<FlowControl>,
    stop: CancellationToken,
}

impl ControlPlaneService {
    /// Services backed by `registry` and `flow`; server streams end when
    /// `stop` is cancelled, so a graceful shutdown is not held open by
    /// watchers.
    pub fn new(registry: Arc<Registry>, flow: Arc<FlowControl>, stop: CancellationToken) -> Self {
        ControlPlaneService {
            registry,
            flow,
            stop,
        }
    }

    fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.stop.clone().cancelled_owned()
    }
}

#[tonic::async_trait]
impl ControlPlane for ControlPlaneService {
    async fn register(
        &self,
        request: Request<ServiceInfo>,
    ) -> Result<Response<RegistrationAck>, Status> {
        let _timer = LatencyTimer::labelled(RPC_HISTOGRAM, "method", "Register");
        let info = self.registry.register(request.into_inner())?;
        tracing::info!(
            service_id = %info.service_id,
            service_type = ServiceType::try_from(info.service_type).map(|t| t.as_str_name()).unwrap_or("?"),
            component_id = %info.component_id,
            "service registered"
        );
        let produces_topics = matches!(
            ServiceType::try_from(info.service_type),
            Ok(ServiceType::Source | ServiceType::Processor)
        );
        let topic_names = if produces_topics {
            info.output_event_types
                .iter()
                .map(|t| format!("{t}.v1"))
                .collect()
        } else {
            Vec::new()
        };
        let connection_info = [(
            "control_plane_endpoint".to_string(),
            self.registry.advertised_endpoint.clone(),
        )]
        .into();
        Ok(Response::new(RegistrationAck {
            service_id: info.service_id,
            topic_names,
            connection_info,
        }))
    }

    async fn heartbeat(&self, request: Request<ServiceHeartbeat>) -> Result<Response<()>, Status> {
        let _timer = LatencyTimer::labelled(RPC_HISTOGRAM, "method", "Heartbeat");
        let heartbeat = request.into_inner();
        self.registry
            .heartbeat(&heartbeat.service_id, heartbeat.metrics)?;
        Ok(Response::new(()))
    }

    async fn get_service_status(
        &self,
        request: Request<ServiceInfo>,
    ) -> Result<Response<ServiceStatus>, Status> {
        let _timer = LatencyTimer::labelled(RPC_HISTOGRAM, "method", "GetServiceStatus");
        Ok(Response::new(
            self.registry.status(&request.into_inner().service_id)?,
        ))
    }

    async fn list_services(&self, _request: Request<()>) -> Result<Response<ServiceList>, Status> {
        let _timer = LatencyTimer::labelled(RPC_HISTOGRAM, "method", "ListServices");
        Ok(Response::new(ServiceList {
            services: self.registry.statuses(),
        }))
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<ServiceEvent, Status>> + Send>>;
type FlowStream = Pin<Box<dyn Stream<Item = Result<FlowControlSignal, Status>> + Send>>;

#[tonic::async_trait]
impl ControlPlaneExtensions for ControlPlaneService {
    async fn deregister(
        &self,
        request: Request<DeregisterRequest>,
    ) -> Result<Response<()>, Status> {
        let _timer = LatencyTimer::labelled(RPC_HISTOGRAM, "method", "Deregister");
        let id = request.into_inner().service_id;
        if id.is_empty() {
            return Err(Status::invalid_argument("Deregister needs a service_id"));
        }
        self.registry.deregister(&id)?;
        tracing::info!(service_id = %id, "service deregistered");
        Ok(Response::new(()))
    }

    type WatchServicesStream = EventStream;

    async fn watch_services(
        &self,
        _request: Request<WatchServicesRequest>,
    ) -> Result<Response<Self::WatchServicesStream>, Status> {
        // Subscribe before the snapshot so no change falls between them.
        let changes = BroadcastStream::new(self.registry.subscribe()).map(|item| {
            item.map_err(|_| {
                Status::resource_exhausted(
                    "watcher fell behind the registry; reconnect to get a fresh snapshot",
                )
            })
        });
        let now = SystemTime::now();
        let snapshot = self.registry.records().into_iter().map(move |record| {
            Ok(ServiceEvent {
                kind: Kind::Existing as i32,
                service: Some(record),
                at: Some(now.into()),
            })
        });
        let stream = futures::stream::iter(snapshot)
            .chain(changes)
            .take_until(self.stopped());
        Ok(Response::new(Box::pin(stream)))
    }

    async fn list_service_records(
        &self,
        _request: Request<()>,
    ) -> Result<Response<ServiceRecordList>, Status> {
        let _timer = LatencyTimer::labelled(RPC_HISTOGRAM, "method", "ListServiceRecords");
        Ok(Response::new(ServiceRecordList {
            services: self.registry.records(),
        }))
    }

    async fn get_topology(&self, _request: Request<()>) -> Result<Response<Topology>, Status> {
        let _timer = LatencyTimer::labelled(RPC_HISTOGRAM, "method", "GetTopology");
        Ok(Response::new(view::topology(&self.registry)))
    }

    async fn get_pipeline_health(
        &self,
        _request: Request<()>,
    ) -> Result<Response<PipelineHealth>, Status> {
        let _timer = LatencyTimer::labelled(RPC_HISTOGRAM, "method", "GetPipelineHealth");
        Ok(Response::new(view::pipeline_health(&self.registry)))
    }

    type WatchFlowControlStream = FlowStream;

    async fn watch_flow_control(
        &self,
        _request: Request<()>,
    ) -> Result<Response<Self::WatchFlowControlStream>, Status> {
        let stream = WatchStream::new(self.flow.subscribe())
            .map(Ok)
            .take_until(self.stopped());
        Ok(Response::new(Box::pin(stream)))
    }
}
