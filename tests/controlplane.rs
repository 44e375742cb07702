//! The control plane over real gRPC on loopback: the flowctl wire contract,
//! health expiry, the watch stream, durable state, auth, TLS, and the
//! flowctl client's registration, simulated ids and discovery.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stellarflow::config::Role;
use stellarflow::controlplane;
use stellarflow::flowctl::proto::flowctl::control_plane_client::ControlPlaneClient;
use stellarflow::flowctl::proto::flowctl::{ServiceHeartbeat, ServiceInfo, ServiceType};
use stellarflow::flowctl::proto::stellarflow::v1::control_plane_extensions_client::ControlPlaneExtensionsClient;
use stellarflow::flowctl::proto::stellarflow::v1::{
    service_event::Kind, DeregisterRequest, ServiceEvent, WatchServicesRequest,
};
use stellarflow::flowctl::{self, ClientTls, Controller, ControllerConfig, UpstreamWatch};
use tonic::transport::Channel;
use tonic::Code;

async fn start(flags: &[(&'static str, &str)]) -> controlplane::Running {
    let mut all = vec![
        ("controlplane.grpc_addr", "127.0.0.1:0"),
        ("controlplane.http_addr", "127.0.0.1:0"),
    ];
    all.extend_from_slice(flags);
    controlplane::start(&common::config(Role::Controlplane, &all))
        .await
        .expect("control plane starts")
}

async fn client(addr: std::net::SocketAddr) -> ControlPlaneClient<Channel> {
    ControlPlaneClient::connect(format!("http://{addr}"))
        .await
        .expect("connect")
}

async fn health_client(
    addr: std::net::SocketAddr,
) -> tonic_health::pb::health_client::HealthClient<Channel> {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    tonic_health::pb::health_client::HealthClient::new(channel)
}

async fn ext(addr: std::net::SocketAddr) -> ControlPlaneExtensionsClient<Channel> {
    ControlPlaneExtensionsClient::connect(format!("http://{addr}"))
        .await
        .expect("connect")
}

fn source_info(id: &str) -> ServiceInfo {
    ServiceInfo {
        service_id: id.into(),
        service_type: ServiceType::Source as i32,
        output_event_types: vec![flowctl::STELLAR_LEDGER_EVENT.into()],
        health_endpoint: "http://127.0.0.1:8088/health".into(),
        max_inflight: 100,
        metadata: [("flight_endpoint".to_string(), "127.0.0.1:9815".to_string())].into(),
        component_id: "stellar-arrow-source".into(),
        ..Default::default()
    }
}

fn controller_config(endpoint: String, heartbeat: Duration) -> ControllerConfig {
    ControllerConfig {
        endpoint,
        heartbeat_interval: heartbeat,
        discovery_interval: heartbeat,
        service_id: None,
        component_id: None,
        auth_token: None,
        tls: None,
    }
}

#[tokio::test]
async fn register_heartbeat_list_status_round_trip() {
    let cp = start(&[]).await;
    let mut c = client(cp.grpc_addr).await;

    // An empty id gets `<SERVICE_TYPE_X>-<unix nanos>`.
    let ack = c
        .register(source_info(""))
        .await
        .expect("register")
        .into_inner();
    let id = ack.service_id.clone();
    let nanos = id
        .strip_prefix("SERVICE_TYPE_SOURCE-")
        .expect("generated id prefix");
    assert!(nanos.parse::<u128>().is_ok(), "generated id {id}");
    assert_eq!(
        ack.topic_names,
        vec![format!("{}.v1", flowctl::STELLAR_LEDGER_EVENT)]
    );
    assert_eq!(
        ack.connection_info.get("control_plane_endpoint"),
        Some(&format!("http://{}", cp.grpc_addr))
    );

    let metrics: HashMap<String, f64> = [("ledgers_processed_total".to_string(), 42.0)].into();
    c.heartbeat(ServiceHeartbeat {
        service_id: id.clone(),
        timestamp: None,
        metrics,
    })
    .await
    .expect("heartbeat");

    let list = c.list_services(()).await.expect("list").into_inner();
    assert_eq!(list.services.len(), 1);
    let status = &list.services[0];
    assert_eq!(status.service_id, id);
    assert!(status.is_healthy);
    assert_eq!(status.metrics.get("ledgers_processed_total"), Some(&42.0));
    assert_eq!(status.component_id, "stellar-arrow-source");
    assert!(status.last_heartbeat.is_some());

    // GetServiceStatus reads only service_id.
    let query = ServiceInfo {
        service_id: id.clone(),
        ..Default::default()
    };
    let status = c
        .get_service_status(query)
        .await
        .expect("status")
        .into_inner();
    assert_eq!(status.service_type, ServiceType::Source as i32);

    // Proper codes, never UNKNOWN.
    let unknown = ServiceInfo {
        service_id: "nope".into(),
        ..Default::default()
    };
    assert_eq!(
        c.get_service_status(unknown).await.unwrap_err().code(),
        Code::NotFound
    );
    let err = c
        .heartbeat(ServiceHeartbeat {
            service_id: "nope".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let mut unspecified = source_info("x");
    unspecified.service_type = ServiceType::Unspecified as i32;
    let err = c.register(unspecified).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("service_type"), "{}", err.message());
    let err = c
        .get_service_status(ServiceInfo::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    // Re-registering the same id replaces the entry.
    let mut again = source_info(&id);
    again
        .metadata
        .insert("flight_endpoint".into(), "127.0.0.1:9999".into());
    c.register(again).await.expect("re-register");
    let records = ext(cp.grpc_addr)
        .await
        .list_service_records(())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(records.services.len(), 1);
    let info = records.services[0].info.clone().unwrap();
    assert_eq!(info.metadata["flight_endpoint"], "127.0.0.1:9999");

    // The HTTP admin surface agrees.
    let body = http_get(cp.http_addr, "/api/services").await;
    assert!(body.contains(&id), "{body}");
    let metrics = http_get(cp.http_addr, "/metrics").await;
    for name in [
        "flowctl_registered_services",
        "flowctl_healthy_services",
        "flowctl_heartbeats_received_total",
        "flowctl_registrations_total",
        "flowctl_rpc_duration_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "/metrics lacks {name}");
    }
    assert!(http_get(cp.http_addr, "/health").await.contains("\"ok\""));
    cp.shutdown().await;
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    stellarflow::runtime::install_tls_provider();
    reqwest::get(format!("http://{addr}{path}"))
        .await
        .expect("GET")
        .text()
        .await
        .expect("body")
}

#[tokio::test]
async fn silent_service_expires_and_heartbeat_revives_it() {
    let cp = start(&[
        ("controlplane.ttl", "1s"),
        ("controlplane.sweep_interval", "20ms"),
    ])
    .await;
    let mut c = client(cp.grpc_addr).await;
    let id = c
        .register(source_info("quiet"))
        .await
        .unwrap()
        .into_inner()
        .service_id;
    let status = |c: &mut ControlPlaneClient<Channel>| {
        let mut c = c.clone();
        let id = id.clone();
        async move {
            c.get_service_status(ServiceInfo {
                service_id: id,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .is_healthy
        }
    };
    assert!(status(&mut c).await);
    // Unhealthy once the TTL passes without a heartbeat (polled: the sweep
    // runs on its own clock).
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&mut c).await {
        assert!(
            Instant::now() < deadline,
            "no heartbeat for longer than the TTL must mean unhealthy"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.heartbeat(ServiceHeartbeat {
        service_id: id.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(status(&mut c).await, "a heartbeat revives the service");
    cp.shutdown().await;
}

#[tokio::test]
async fn watch_sees_register_unhealthy_deregister_in_order() {
    let cp = start(&[
        ("controlplane.ttl", "200ms"),
        ("controlplane.sweep_interval", "20ms"),
    ])
    .await;
    let mut stream = ext(cp.grpc_addr)
        .await
        .watch_services(WatchServicesRequest {})
        .await
        .unwrap()
        .into_inner();
    let mut c = client(cp.grpc_addr).await;
    let registered_at = Instant::now();
    c.register(source_info("watched")).await.unwrap();
    let e = next(&mut stream).await;
    assert!(
        registered_at.elapsed() < Duration::from_millis(100),
        "pushed within 100 ms"
    );
    assert_eq!(e.kind, Kind::Registered as i32);
    let e = next(&mut stream).await;
    assert_eq!(e.kind, Kind::HealthChanged as i32);
    assert!(!e.service.unwrap().status.unwrap().is_healthy);
    ext(cp.grpc_addr)
        .await
        .deregister(DeregisterRequest {
            service_id: "watched".into(),
        })
        .await
        .unwrap();
    let e = next(&mut stream).await;
    assert_eq!(e.kind, Kind::Deregistered as i32);
    assert_eq!(e.service.unwrap().info.unwrap().service_id, "watched");
    let err = ext(cp.grpc_addr)
        .await
        .deregister(DeregisterRequest {
            service_id: "watched".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    cp.shutdown().await;
}

async fn next(stream: &mut tonic::Streaming<ServiceEvent>) -> ServiceEvent {
    tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("event within 5 s")
        .expect("stream ok")
        .expect("stream open")
}

#[tokio::test]
async fn registry_survives_a_restart_with_state_dir() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let cp = start(&[("controlplane.state_dir", state)]).await;
    let mut c = client(cp.grpc_addr).await;
    c.register(source_info("durable-a")).await.unwrap();
    let mut sink = source_info("durable-b");
    sink.service_type = ServiceType::Sink as i32;
    c.register(sink).await.unwrap();
    cp.shutdown().await;

    let cp = start(&[("controlplane.state_dir", state)]).await;
    let ids: Vec<String> = client(cp.grpc_addr)
        .await
        .list_services(())
        .await
        .unwrap()
        .into_inner()
        .services
        .into_iter()
        .map(|s| s.service_id)
        .collect();
    assert_eq!(ids, vec!["durable-a", "durable-b"]);
    cp.shutdown().await;
}

#[tokio::test]
async fn client_started_first_runs_simulated_then_registers() {
    // The control plane's port is bound but not listening, so connections
    // are refused until the control plane starts on this very socket.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let interval = Duration::from_millis(300);
    let controller = Controller::new(
        controller_config(addr.to_string(), interval),
        source_info(""),
        Arc::new(HashMap::new),
    )
    .unwrap();
    controller.start().await;
    let sim = controller.service_id();
    assert!(
        sim.starts_with("sim-SERVICE_TYPE_SOURCE-"),
        "simulated id, got {sim}"
    );
    assert!(!controller.is_registered());

    socket.listen(128).unwrap();
    socket.set_nonblocking(true).unwrap();
    let grpc = tokio::net::TcpListener::from_std(socket.into()).unwrap();
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sockets = stellarflow::listen::Bound {
        data_addr: addr,
        data: grpc,
        http_addr: http.local_addr().unwrap(),
        http,
    };
    let cp = controlplane::start_on(&common::config(Role::Controlplane, &[]), sockets)
        .await
        .expect("control plane starts");
    common::eventually("the client registers", Duration::from_secs(10), || {
        controller.is_registered().then_some(())
    })
    .await;
    let id = controller.service_id();
    assert!(!id.starts_with("sim-"));
    assert!(cp.registry.status(&id).is_ok());

    // Heartbeats flow; a control plane that forgets us makes the client
    // re-register on its next heartbeat.
    cp.registry.deregister(&id).unwrap();
    common::eventually(
        "re-registered after a failed heartbeat",
        Duration::from_secs(10),
        || cp.registry.status(&id).is_ok().then_some(()),
    )
    .await;
    controller.stop().await;
    assert!(cp.registry.status(&id).is_err(), "stop deregisters");
    cp.shutdown().await;
}

#[tokio::test]
async fn discovery_finds_flight_endpoint_and_follows_changes() {
    let cp = start(&[]).await;
    let endpoint = cp.grpc_addr.to_string();
    let processor = ServiceInfo {
        service_type: ServiceType::Processor as i32,
        input_event_types: vec![flowctl::STELLAR_LEDGER_EVENT.into()],
        output_event_types: vec![flowctl::TTP_EVENT.into()],
        ..Default::default()
    };
    let processor = Controller::new(
        controller_config(endpoint.clone(), Duration::from_millis(200)),
        processor,
        Arc::new(HashMap::new),
    )
    .unwrap();
    processor.start().await;

    // Nothing registered: the configured endpoint, else the default port.
    // `spawn` returns after the first discovery.
    let watch =
        UpstreamWatch::spawn(Some(processor.clone()), flowctl::STELLAR_LEDGER_EVENT, None).await;
    assert_eq!(watch.current(), "127.0.0.1:8815");

    let mut c = client(cp.grpc_addr).await;
    c.register(source_info("src-1")).await.unwrap();
    wait_for(&watch, "127.0.0.1:9815").await;
    let found = processor
        .discover(flowctl::STELLAR_LEDGER_EVENT)
        .await
        .unwrap();
    assert_eq!(found[0].service_id, "src-1");

    // The source moves: the watch stream pushes the new endpoint.
    let mut moved = source_info("src-1");
    moved
        .metadata
        .insert("flight_endpoint".into(), "127.0.0.1:7000".into());
    c.register(moved).await.unwrap();
    wait_for(&watch, "127.0.0.1:7000").await;

    // It goes away: back to the fallback.
    ext(cp.grpc_addr)
        .await
        .deregister(DeregisterRequest {
            service_id: "src-1".into(),
        })
        .await
        .unwrap();
    wait_for(&watch, "127.0.0.1:8815").await;
    processor.stop().await;
    cp.shutdown().await;
}

async fn wait_for(watch: &UpstreamWatch, expected: &str) {
    let started = Instant::now();
    while watch.current() != expected {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "endpoint {} never became {expected}",
            watch.current()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn bearer_token_is_required_on_every_rpc() {
    let cp = start(&[("flowctl.auth_token", "s3cret")]).await;
    let mut plain = client(cp.grpc_addr).await;
    let err = plain.list_services(()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let mut health = health_client(cp.grpc_addr).await;
    let err = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    let wrong = flowctl::connect(&cp.grpc_addr.to_string(), None, Some("guess")).unwrap();
    let err = ControlPlaneClient::new(wrong)
        .list_services(())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    let right = flowctl::connect(&cp.grpc_addr.to_string(), None, Some("s3cret")).unwrap();
    ControlPlaneClient::new(right)
        .list_services(())
        .await
        .expect("right token is accepted");
    cp.shutdown().await;
}

#[tokio::test]
async fn grpc_health_service_reports_serving() {
    let cp = start(&[]).await;
    let mut health = health_client(cp.grpc_addr).await;
    let reply = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "flowctl.ControlPlane".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        reply.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    cp.shutdown().await;
}

#[tokio::test]
async fn mutual_tls_round_trip() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, pem: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path.to_str().unwrap().to_string()
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "stellarflow test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let issue = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = issue(vec!["localhost".into(), "127.0.0.1".into()]);
    let (client_cert, client_key) = issue(vec!["client".into()]);
    let ca_path = write("ca.pem", ca.pem());
    let cp = start(&[
        ("controlplane.tls_cert", &write("server.pem", server_cert)),
        ("controlplane.tls_key", &write("server.key", server_key)),
        ("controlplane.tls_client_ca", &ca_path),
    ])
    .await;
    let endpoint = format!("https://localhost:{}", cp.grpc_addr.port());
    let tls = ClientTls {
        ca_pem: Some(ca.pem().into_bytes()),
        identity: Some((client_cert.into_bytes(), client_key.into_bytes())),
    };
    let channel = flowctl::connect(&endpoint, Some(&tls), None).unwrap();
    let ack = ControlPlaneClient::new(channel)
        .register(source_info("tls-source"))
        .await
        .expect("mutual TLS register")
        .into_inner();
    assert_eq!(ack.service_id, "tls-source");
    assert!(ack.connection_info["control_plane_endpoint"].starts_with("https://"));

    // Without a client certificate the handshake is refused.
    let no_identity = ClientTls {
        ca_pem: Some(ca.pem().into_bytes()),
        identity: None,
    };
    let channel = flowctl::connect(&endpoint, Some(&no_identity), None).unwrap();
    assert!(ControlPlaneClient::new(channel)
        .list_services(())
        .await
        .is_err());
    // Plain text against a TLS port fails too.
    let channel =
        flowctl::connect(&format!("127.0.0.1:{}", cp.grpc_addr.port()), None, None).unwrap();
    assert!(ControlPlaneClient::new(channel)
        .list_services(())
        .await
        .is_err());
    cp.shutdown().await;
}

#[tokio::test]
async fn topology_and_pipeline_health() {
    let cp = start(&[]).await;
    let mut c = client(cp.grpc_addr).await;
    c.register(source_info("src")).await.unwrap();
    let processor = ServiceInfo {
        service_id: "proc".into(),
        service_type: ServiceType::Processor as i32,
        input_event_types: vec![flowctl::STELLAR_LEDGER_EVENT.into()],
        output_event_types: vec![flowctl::TTP_EVENT.into()],
        ..Default::default()
    };
    let ack = c.register(processor).await.unwrap().into_inner();
    assert_eq!(ack.topic_names, vec!["ttp_event_service.TTPEvent.v1"]);
    let sink = ServiceInfo {
        service_id: "sink".into(),
        service_type: ServiceType::Sink as i32,
        input_event_types: vec![flowctl::TTP_EVENT.into()],
        ..Default::default()
    };
    let ack = c.register(sink).await.unwrap().into_inner();
    assert!(ack.topic_names.is_empty(), "sinks get no topics");
    let topology = ext(cp.grpc_addr)
        .await
        .get_topology(())
        .await
        .unwrap()
        .into_inner();
    let edges: Vec<(String, String)> = topology
        .edges
        .iter()
        .map(|e| (e.from_service_id.clone(), e.to_service_id.clone()))
        .collect();
    assert_eq!(
        edges,
        vec![
            ("proc".into(), "sink".into()),
            ("src".into(), "proc".into())
        ]
    );
    let health = ext(cp.grpc_addr)
        .await
        .get_pipeline_health(())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(health.overall_status, "healthy");
    assert_eq!(health.total_services, 3);
    let report = http_get(cp.http_addr, "/api/health-report").await;
    assert!(
        report.contains("\"overall_status\":\"healthy\""),
        "{report}"
    );
    let topo = http_get(cp.http_addr, "/api/topology").await;
    assert!(topo.contains("\"from\":\"src\""), "{topo}");
    cp.shutdown().await;
}

#[tokio::test]
async fn backpressure_activates_and_recovers() {
    let cp = start(&[]).await;
    let mut c = client(cp.grpc_addr).await;
    let mut flow = ext(cp.grpc_addr)
        .await
        .watch_flow_control(())
        .await
        .unwrap()
        .into_inner();
    let first = flow.message().await.unwrap().unwrap();
    assert!(!first.backpressure_active);
    c.register(source_info("busy")).await.unwrap();
    let load = |inflight: f64| ServiceHeartbeat {
        service_id: "busy".into(),
        timestamp: None,
        metrics: [
            ("current_inflight".to_string(), inflight),
            ("max_inflight".to_string(), 100.0),
        ]
        .into(),
    };
    c.heartbeat(load(90.0)).await.unwrap();
    let signal = tokio::time::timeout(Duration::from_secs(2), flow.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(signal.backpressure_active);
    assert_eq!(signal.throttle_rate, 0.5);
    // 0.7 is between the thresholds: still active (hysteresis).
    c.heartbeat(load(70.0)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = http_get(cp.http_addr, "/api/flow-control").await;
    assert!(report.contains("\"backpressure_active\":true"), "{report}");
    c.heartbeat(load(10.0)).await.unwrap();
    let signal = tokio::time::timeout(Duration::from_secs(2), flow.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(!signal.backpressure_active);
    assert_eq!(signal.throttle_rate, 1.0);
    cp.shutdown().await;
}

/// No client can drive the control plane's memory up: a registration is
/// capped in size, the registry in services, each refusal says which
/// limit; services that stopped heartbeating are removed after the grace
/// period, and a topology lists at most its edge cap with the true count.
#[tokio::test]
async fn registry_bounds_refuse_clearly_and_expired_services_go() {
    let cp = start(&[
        ("controlplane.max_services", "3"),
        ("controlplane.max_service_bytes", "4096"),
        ("controlplane.ttl", "300ms"),
        ("controlplane.expired_grace", "300ms"),
        ("controlplane.sweep_interval", "20ms"),
    ])
    .await;
    let mut c = client(cp.grpc_addr).await;
    let mut big = source_info("big");
    big.metadata.insert("blob".into(), "x".repeat(8192));
    let refused = c.register(big).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused.message().contains("controlplane.max_service_bytes"),
        "{}",
        refused.message()
    );
    // Far above the limit, the message is cut off before it is decoded.
    let mut huge = source_info("huge");
    huge.metadata.insert("blob".into(), "x".repeat(4 << 20));
    let refused = c.register(huge).await.unwrap_err();
    assert!(
        matches!(refused.code(), Code::OutOfRange | Code::ResourceExhausted)
            && refused.message().contains("too large"),
        "{refused:?}"
    );

    for id in ["a", "b", "c"] {
        c.register(source_info(id)).await.unwrap();
    }
    let refused = c.register(source_info("d")).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert!(refused.message().contains("controlplane.max_services"));
    // Registering again under a known id is not a new service.
    c.register(source_info("a")).await.unwrap();
    let metrics = HashMap::from([("k".repeat(5000), 1.0)]);
    let refused = c
        .heartbeat(ServiceHeartbeat {
            service_id: "a".into(),
            metrics,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);

    // Silent services expire, then are removed, freeing their places.
    common::eventually("expired services removed", Duration::from_secs(20), || {
        cp.registry.records().is_empty().then_some(())
    })
    .await;
    c.register(source_info("d")).await.unwrap();
    cp.shutdown().await;
}

#[tokio::test]
async fn topology_of_many_services_is_capped_with_the_true_count() {
    let cp = start(&[("controlplane.max_services", "300")]).await;
    let mut c = client(cp.grpc_addr).await;
    // 120 sources × 100 processors: 12,000 edges implied.
    for i in 0..120 {
        c.register(source_info(&format!("s{i:03}"))).await.unwrap();
    }
    for i in 0..100 {
        c.register(ServiceInfo {
            service_id: format!("p{i:03}"),
            service_type: ServiceType::Processor as i32,
            input_event_types: vec![flowctl::STELLAR_LEDGER_EVENT.into()],
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let topology = ext(cp.grpc_addr)
        .await
        .get_topology(())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(topology.total_edges, 12_000);
    assert!(topology.truncated);
    assert_eq!(topology.edges.len(), 10_000);
    assert_eq!(topology.services.len(), 220);
    let body = http_get(cp.http_addr, "/api/topology").await;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["total_edges"], 12_000);
    assert_eq!(json["truncated"], true);
    assert!(body.len() < 2_000_000, "{} bytes", body.len());
    cp.shutdown().await;
}
