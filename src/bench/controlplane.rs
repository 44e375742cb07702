//! `bench controlplane`: N services heartbeating one control plane (a child
//! process) over loopback. Two runs side by side: paced, each service
//! sending on its own interval so the total offered load is `--rate` (how
//! services really behave; latency here is service time), and saturated,
//! every service sending back to back (the throughput ceiling; latency there
//! is mostly queueing, N / throughput).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tonic::transport::Channel;

use super::child::{free_addr, ChildRole};
use super::rate;
use crate::cli::BenchControlplaneArgs;
use crate::config::parse_duration;
use crate::flowctl::proto::flowctl::control_plane_client::ControlPlaneClient;
use crate::flowctl::proto::flowctl::{ServiceHeartbeat, ServiceInfo, ServiceType};

/// Results of one run.
struct Run {
    heartbeats: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    errors: u64,
}

/// Runs the control-plane benchmark.
pub async fn bench_controlplane(args: &BenchControlplaneArgs) -> anyhow::Result<()> {
    let duration = parse_duration(&args.duration).ok_or_else(|| {
        anyhow::anyhow!(
            "invalid value for --duration: {:?} (expected e.g. 10s)",
            args.duration
        )
    })?;
    let services = args.services.max(1) as usize;
    let connections = args.connections.max(1) as usize;
    let grpc = free_addr()?;
    let http = free_addr()?;
    let cp_args: Vec<String> = [
        "controlplane",
        "--grpc-addr",
        &grpc,
        "--http-addr",
        &http,
        "--ttl",
        "60s",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let server = ChildRole::start("controlplane", &cp_args, &http, Duration::from_secs(20)).await?;

    let mut channels = Vec::with_capacity(connections);
    for _ in 0..connections {
        channels.push(
            Channel::from_shared(format!("http://{grpc}"))?
                .tcp_nodelay(true)
                .connect()
                .await?,
        );
    }
    let mut ids = Vec::with_capacity(services);
    for i in 0..services {
        let mut client = ControlPlaneClient::new(channels[i % connections].clone());
        let info = ServiceInfo {
            service_id: format!("bench-{i}"),
            service_type: ServiceType::Processor as i32,
            max_inflight: 100,
            ..Default::default()
        };
        ids.push(client.register(info).await?.into_inner().service_id);
    }
    println!(
        "control plane benchmark: {services} services on {connections} connections, {duration:?} per run, server in a child process"
    );
    let paced = run(&channels, &ids, duration, Some(args.rate.max(1))).await?;
    let saturated = run(&channels, &ids, duration, None).await?;
    server.stop().await;

    println!(
        "{:<22} {:>18} {:>18}",
        "",
        format!("paced {}/s", rate(f64::from(args.rate))),
        "saturated"
    );
    let row = |name: &str, a: String, b: String| println!("{name:<22} {a:>18} {b:>18}");
    row(
        "heartbeats",
        rate(paced.heartbeats as f64),
        rate(saturated.heartbeats as f64),
    );
    row(
        "heartbeats/s",
        rate(paced.per_second),
        rate(saturated.per_second),
    );
    row(
        "latency p50 (ms)",
        format!("{:.3}", paced.p50_ms),
        format!("{:.3}", saturated.p50_ms),
    );
    row(
        "latency p99 (ms)",
        format!("{:.3}", paced.p99_ms),
        format!("{:.3}", saturated.p99_ms),
    );
    row(
        "latency max (ms)",
        format!("{:.3}", paced.max_ms),
        format!("{:.3}", saturated.max_ms),
    );
    row(
        "errors",
        paced.errors.to_string(),
        saturated.errors.to_string(),
    );
    Ok(())
}

/// One run: every service heartbeats for `duration`, either every
/// `services / rate` seconds (staggered) or back to back.
async fn run(
    channels: &[Channel],
    ids: &[String],
    duration: Duration,
    rate: Option<u32>,
) -> anyhow::Result<Run> {
    let started = Instant::now();
    let deadline = started + duration;
    let errors = Arc::new(AtomicU64::new(0));
    let period = rate.map(|r| Duration::from_secs_f64(ids.len() as f64 / f64::from(r)));
    let mut tasks = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let mut client = ControlPlaneClient::new(channels[i % channels.len()].clone());
        let errors = errors.clone();
        let id = id.clone();
        let mut ticker = period.map(|p| {
            let offset = p.mul_f64(i as f64 / ids.len() as f64);
            let mut t =
                tokio::time::interval_at(tokio::time::Instant::from_std(started + offset), p);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            t
        });
        tasks.push(tokio::spawn(async move {
            let metrics: HashMap<String, f64> = [
                ("current_inflight".to_string(), 10.0),
                ("max_inflight".to_string(), 100.0),
            ]
            .into();
            let mut latencies: Vec<u32> = Vec::new();
            loop {
                if let Some(t) = ticker.as_mut() {
                    t.tick().await;
                }
                if Instant::now() >= deadline {
                    return latencies;
                }
                let beat = ServiceHeartbeat {
                    service_id: id.clone(),
                    timestamp: None,
                    metrics: metrics.clone(),
                };
                let sent = Instant::now();
                match client.heartbeat(beat).await {
                    Ok(_) => {
                        latencies.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32)
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await?);
    }
    // Every counted heartbeat was sent within the window; the time spent
    // collecting the last replies after it is not part of the rate.
    let elapsed = duration.as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        f64::from(all[((all.len() as f64 - 1.0) * p).round() as usize]) / 1000.0
    };
    Ok(Run {
        heartbeats: all.len(),
        per_second: all.len() as f64 / elapsed,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        max_ms: pct(1.0),
        errors: errors.load(Ordering::Relaxed),
    })
}
