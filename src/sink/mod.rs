//! `stellarflow sink`: writes the processor's events to Parquet, JSONL,
//! CSV and PostgreSQL, feeds WebSocket clients and a small HTTP API, and
//! keeps a durable cursor per output so a restarted (even `kill -9`ed)
//! sink resumes exactly where it stopped.

mod api;
mod consumer;
mod cursor;
mod files;
pub mod live;
mod output;
mod pg_tls;
mod postgres;
mod stats;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tonic::Status;

pub use crate::config::OutputSpec;
pub use files::{FileOutput, Format, Limits};
pub use live::{LiveFeed, Subscription};
pub use output::Output;
pub use postgres::{Numeric, PostgresOutput};
pub use stats::SinkStats;

use crate::config::{Config, Role, SinkSettings};
use crate::flight::{ledger_batches, BatchStream, FlightServer, RangeService, Ticket};
use crate::flowctl::proto::flowctl::ServiceType;
use crate::flowctl::{UpstreamWatch, TTP_EVENT};
use crate::runtime::{start_role, Registration, RoleHandle};
use crate::security::ClientAccess;
use crate::telemetry::{install_metrics, RunSummary};

/// Opens every configured output (blocking: PostgreSQL set-up), plus the
/// live feed.
fn open_outputs(
    specs: &[OutputSpec],
    settings: &SinkSettings,
    feed: Arc<LiveFeed>,
    runtime: tokio::runtime::Handle,
) -> anyhow::Result<Vec<Box<dyn Output>>> {
    let state_dir = Path::new(&settings.state_dir);
    let limits = Limits {
        row_group_rows: settings.row_group_rows as usize,
        rotate_rows: settings.rotate_rows,
        rotate_bytes: settings.rotate_bytes,
    };
    let mut outputs: Vec<Box<dyn Output>> = Vec::new();
    for spec in specs {
        let output: Box<dyn Output> = match spec {
            OutputSpec::Parquet(dir) => {
                Box::new(FileOutput::open(Format::Parquet, dir, state_dir, limits)?)
            }
            OutputSpec::Jsonl(dir) => {
                Box::new(FileOutput::open(Format::Jsonl, dir, state_dir, limits)?)
            }
            OutputSpec::Csv(dir) => {
                Box::new(FileOutput::open(Format::Csv, dir, state_dir, limits)?)
            }
            OutputSpec::Postgres(url) => Box::new(PostgresOutput::open(
                url,
                &settings.postgres_table,
                settings.rotate_rows.min(50_000),
                runtime.clone(),
            )?),
            OutputSpec::WebSocket => continue,
        };
        tracing::info!(output = %output.describe(), cursor = ?output.cursor(), "output ready");
        outputs.push(output);
    }
    outputs.push(Box::new(live::LiveOutput::new(feed)));
    Ok(outputs)
}

/// The ledger to ask for first: `max(S, cursor + 1)` over the outputs,
/// where an output without a cursor needs S.
fn first_ledger(start: Option<u32>, cursors: &[Option<u32>]) -> Option<u32> {
    let needs = cursors.iter().map(|c| match c {
        Some(c) => Some(c.saturating_add(1)),
        None => start,
    });
    let earliest = needs
        .collect::<Option<Vec<u32>>>()?
        .into_iter()
        .min()
        .or(start)?;
    Some(start.map_or(earliest, |s| earliest.max(s)))
}

/// Serves the processor's events onward (a sink can feed another sink).
struct PassThrough {
    upstream: watch::Receiver<String>,
    access: ClientAccess,
}

#[tonic::async_trait]
impl RangeService for PassThrough {
    fn schema(&self) -> SchemaRef {
        crate::schema::ttp::schema()
    }

    async fn available(&self) -> Result<Option<(u32, u32)>, Status> {
        Ok(None)
    }

    async fn stream(&self, ticket: Ticket) -> Result<BatchStream, Status> {
        let access = self.access.clone();
        Ok(ledger_batches(
            "processor",
            self.upstream.clone(),
            ticket,
            access,
        ))
    }
}

/// Batches queued between the reader and the writer.
const QUEUED_BATCHES: usize = 4;

/// A sink running in this process.
pub struct Running {
    /// Bound Flight address.
    pub flight_addr: SocketAddr,
    /// Bound HTTP address.
    pub http_addr: SocketAddr,
    /// Counters.
    pub stats: Arc<SinkStats>,
    /// The live feed.
    pub feed: Arc<LiveFeed>,
    consumer: JoinHandle<anyhow::Result<()>>,
    reader: Option<JoinHandle<()>>,
    handle: RoleHandle,
    _upstream: UpstreamWatch,
}

impl Running {
    /// Waits until a bounded range is written (or the sink fails).
    pub async fn finished(&mut self) -> anyhow::Result<()> {
        (&mut self.consumer)
            .await
            .map_err(|e| anyhow::anyhow!("the writer thread failed: {e}"))?
    }

    /// Stops reading, commits what was received, and stops serving.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(reader) = self.reader.take() {
            reader.abort();
        }
        let result = if self.consumer.is_finished() {
            Ok(())
        } else {
            (&mut self.consumer)
                .await
                .map_err(|e| anyhow::anyhow!("the writer thread failed: {e}"))?
        };
        self.handle.shutdown().await;
        result
    }
}

/// Opens the outputs and starts writing.
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    start_on(config, crate::runtime::bind(Role::Sink, config).await?).await
}

/// Starts serving on sockets the caller bound (tests that must know the
/// address before the role exists bind first, with no window in between).
pub async fn start_on(config: &Config, bound: crate::listen::Bound) -> anyhow::Result<Running> {
    let settings = config.settings.sink.clone();
    // Before anything records a metric.
    install_metrics();
    // Parsed and checked (at least one, none twice) with the configuration.
    let specs = settings.outputs.clone();
    if let Some(table) = specs
        .iter()
        .find_map(|s| matches!(s, OutputSpec::Postgres(_)).then_some(&settings.postgres_table))
    {
        postgres::check_table(table)?;
    }
    let stats = Arc::new(SinkStats::default());
    // In flight means batches received and not yet written: the queue
    // between reader and writer, and the batch in the writer's hands. Its
    // bound is what the control plane's load compares against, in the
    // same unit, so the sink's load cannot pass 100%.
    stats.common.set_max_inflight(QUEUED_BATCHES as u32 + 1);
    let feed = LiveFeed::new(
        settings.recent_events as usize,
        settings.ws_queue as usize,
        specs.contains(&OutputSpec::WebSocket),
    );
    let runtime = tokio::runtime::Handle::current();
    let outputs = {
        let (specs, settings, feed) = (specs.clone(), settings.clone(), feed.clone());
        tokio::task::spawn_blocking(move || open_outputs(&specs, &settings, feed, runtime))
            .await
            .map_err(|e| anyhow::anyhow!("opening outputs failed: {e}"))??
    };
    let described: Vec<String> = specs.iter().map(OutputSpec::display).collect();
    let registration = Registration {
        service_type: ServiceType::Sink,
        inputs: vec![TTP_EVENT.into()],
        outputs: Vec::new(),
        metadata: vec![("outputs".to_string(), described.join(","))],
    };
    let (heartbeat_stats, heartbeat_feed) = (stats.clone(), feed.clone());
    let heartbeat = Arc::new(move || {
        let connections = heartbeat_feed.connections() as u64;
        heartbeat_stats
            .websocket_connections
            .store(connections, Ordering::Relaxed);
        heartbeat_stats.heartbeat()
    });
    let api = api::router(feed.clone(), stats.clone());
    let mut role = start_role(
        Role::Sink,
        config,
        bound,
        registration,
        Some(api),
        heartbeat,
    )
    .await?;
    let upstream = UpstreamWatch::spawn(
        role.handle.controller.clone(),
        TTP_EVENT,
        settings.processor_endpoint.clone(),
    )
    .await;
    let flight_service = FlightServer::new(
        Arc::new(PassThrough {
            upstream: upstream.subscribe(),
            access: role.handle.access.client.clone(),
        }),
        role.handle.stop.clone(),
    )
    .into_grpc();
    role.serve_flight(|router| router.add_service(flight_service))
        .await?;

    let cursors: Vec<Option<u32>> = outputs
        .iter()
        .filter(|o| o.cursor().is_some() || !is_live(o.as_ref()))
        .map(|o| o.cursor())
        .collect();
    let first = match first_ledger(settings.start, &cursors) {
        Some(first) => first,
        None => anyhow::bail!("no start ledger: pass --start (the outputs have no cursor yet)"),
    };
    let (tx, rx) = mpsc::channel(QUEUED_BATCHES);
    let complete = settings.end.is_some_and(|end| first > end);
    let reader = if complete {
        tracing::info!(cursor = first - 1, end = ?settings.end, "every output already holds the range");
        drop(tx);
        None
    } else {
        let ticket = match settings.end {
            Some(end) => Ticket::range(first, end),
            None => Ticket::live(first),
        };
        tracing::info!(start = first, end = ?settings.end, processor = %upstream.current(), "requesting events");
        let access = role.handle.access.client.clone();
        let mut batches = ledger_batches("processor", upstream.subscribe(), ticket, access);
        let queued = stats.clone();
        Some(tokio::spawn(async move {
            while let Some(item) = batches.next().await {
                let failed = item.is_err();
                // Counted once it has a place in the queue, before the
                // writer can take it (and count it out).
                let Ok(slot) = tx.reserve().await else {
                    return;
                };
                if item.is_ok() {
                    queued.common.add_inflight(1);
                }
                slot.send(item);
                if failed {
                    return;
                }
            }
        }))
    };
    let plan = consumer::Plan {
        end: settings.end,
        flush_interval: settings.flush_interval,
    };
    let consumer_stats = stats.clone();
    let runtime = tokio::runtime::Handle::current();
    let consumer = tokio::task::spawn_blocking(move || {
        consumer::run(outputs, rx, plan, consumer_stats, runtime)
    });
    role.handle.health.set("outputs", described.join(","));
    role.handle
        .health
        .set("processor_endpoint", upstream.current());
    role.handle.health.set_serving(true);
    tracing::info!(flight_addr = %role.flight_addr, http_addr = %role.http_addr, outputs = %described.join(", "), "sink running");
    Ok(Running {
        flight_addr: role.flight_addr,
        http_addr: role.http_addr,
        stats,
        feed,
        consumer,
        reader,
        handle: role.handle,
        _upstream: upstream,
    })
}

fn is_live(output: &dyn Output) -> bool {
    output.cursor().is_none() && output.describe().starts_with("live feed")
}

/// `stellarflow sink`: a bounded run exits when every output holds the
/// range; a live run until SIGINT/SIGTERM, committing what it received.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let bounded = config.settings.sink.end.is_some();
    let mut running = start(&config).await?;
    if bounded {
        let result = tokio::select! {
            result = running.finished() => result,
            _ = crate::runtime::shutdown_signal() => Ok(()),
        };
        let stats = running.stats.clone();
        running.shutdown().await?;
        result?;
        let summary = RunSummary {
            start: config.settings.sink.start,
            end: config.settings.sink.end,
            outputs: config
                .settings
                .sink
                .outputs
                .iter()
                .map(OutputSpec::display)
                .collect(),
            progress: stats.progress(),
        };
        let dir = Path::new(&config.settings.sink.state_dir);
        if let Err(e) = summary.write(dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot write the run summary");
        }
        tracing::info!(
            events = stats.events.load(Ordering::Relaxed),
            files = stats.files.load(Ordering::Relaxed),
            cursor = stats.common.current_ledger.load(Ordering::Relaxed),
            "sink finished its range"
        );
        return Ok(());
    }
    tokio::select! {
        result = running.finished() => {
            running.shutdown().await?;
            return result;
        }
        _ = crate::runtime::shutdown_signal() => {}
    }
    running.shutdown().await?;
    tracing::info!("sink stopped");
    Ok(())
}
