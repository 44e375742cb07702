//! The live side of the sink: WebSocket clients with their own filters,
//! the most recent events for `/api/events`, and per-asset volumes over
//! ledger-time windows for `/api/analytics`. A client that cannot keep up
//! is disconnected with a close reason instead of slowing the pipeline.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::RecordBatch;
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Notify};

use super::output::Output;
use crate::flight::BatchMeta;

/// What a client subscribes to; empty lists match everything.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// Event types.
    #[serde(default)]
    pub event_types: Vec<String>,
    /// SEP-11 assets (`native`, `CODE:ISSUER`).
    #[serde(default)]
    pub assets: Vec<String>,
    /// Addresses, matched against `from` and `to`.
    #[serde(default)]
    pub accounts: Vec<String>,
}

impl Subscription {
    fn matches(&self, event: &Value) -> bool {
        let field = |name: &str| event.get(name).and_then(Value::as_str);
        let within = |list: &Vec<String>, value: Option<&str>| {
            list.is_empty() || value.is_some_and(|v| list.iter().any(|x| x == v))
        };
        within(&self.event_types, field("event_type"))
            && within(&self.assets, field("asset"))
            && (self.accounts.is_empty()
                || within(&self.accounts, field("from"))
                || within(&self.accounts, field("to")))
    }
}

/// One connected client.
pub struct Client {
    /// Its filter.
    pub subscription: Mutex<Subscription>,
    /// Events queued for it.
    pub queue: mpsc::Sender<Arc<str>>,
    /// Set when it fell behind and must be closed.
    pub kicked: Notify,
}

/// Per-asset buckets of one minute. Looked up once per row: a fast hasher
/// (the keys are asset names from our own batches, not client input).
type AssetBuckets = HashMap<String, Bucket, foldhash::fast::RandomState>;

#[derive(Default)]
struct Bucket {
    events: u64,
    volume: BTreeMap<String, i128>,
}

/// Shared between the output (writer) and the HTTP API (readers).
pub struct LiveFeed {
    clients: Mutex<HashMap<u64, Arc<Client>>>,
    next_id: AtomicU64,
    /// The newest `recent_capacity` rows, kept as Arrow (a compact copy)
    /// and rendered as JSON only when `/api/events` asks.
    recent: Mutex<Option<RecordBatch>>,
    recent_capacity: usize,
    queue_capacity: usize,
    /// minute of ledger time → asset → bucket; the last hour is kept.
    minutes: Mutex<BTreeMap<i64, AssetBuckets>>,
    /// Whether `/ws` is served (`--output websocket`).
    pub websocket: bool,
}

impl LiveFeed {
    /// A feed keeping `recent` events, queueing `queue` per client.
    pub fn new(recent: usize, queue: usize, websocket: bool) -> Arc<Self> {
        Arc::new(LiveFeed {
            clients: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            recent: Mutex::new(None),
            recent_capacity: recent,
            queue_capacity: queue,
            minutes: Mutex::new(BTreeMap::new()),
            websocket,
        })
    }

    /// Registers a client with its first filter; returns its id, handle
    /// and queue.
    pub fn connect(
        &self,
        subscription: Subscription,
    ) -> (u64, Arc<Client>, mpsc::Receiver<Arc<str>>) {
        let (queue, rx) = mpsc::channel(self.queue_capacity.max(1));
        let client = Arc::new(Client {
            subscription: Mutex::new(subscription),
            queue,
            kicked: Notify::new(),
        });
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.clients.lock().insert(id, client.clone());
        metrics::gauge!("stellarflow_sink_websocket_connections").set(self.connections() as f64);
        (id, client, rx)
    }

    /// Forgets a client.
    pub(crate) fn disconnect(&self, id: u64) {
        self.clients.lock().remove(&id);
        metrics::gauge!("stellarflow_sink_websocket_connections").set(self.connections() as f64);
    }

    /// Connected clients.
    pub fn connections(&self) -> usize {
        self.clients.lock().len()
    }

    /// The most recent events, newest last.
    pub fn recent(&self, limit: usize) -> anyhow::Result<Vec<Value>> {
        let Some(recent) = self.recent.lock().clone() else {
            return Ok(Vec::new());
        };
        let rows = recent.num_rows();
        let take = limit.min(rows);
        rows_as_json(&recent.slice(rows - take, take))
    }

    /// Per-asset event counts and volumes per event type over the last
    /// `minutes` minutes of ledger time (up to the newest ledger seen).
    pub fn analytics(&self, minutes: i64) -> Value {
        let buckets = self.minutes.lock();
        let Some(newest) = buckets.keys().next_back().copied() else {
            return json!({"window_minutes": minutes, "until": Value::Null, "assets": []});
        };
        let mut per_asset: BTreeMap<String, Bucket> = BTreeMap::new();
        for (_, assets) in buckets.range(newest - minutes + 1..=newest) {
            for (asset, bucket) in assets {
                let total = per_asset.entry(asset.clone()).or_default();
                total.events += bucket.events;
                for (kind, amount) in &bucket.volume {
                    *total.volume.entry(kind.clone()).or_default() += amount;
                }
            }
        }
        let until = chrono::DateTime::from_timestamp((newest + 1) * 60, 0).map(|t| t.to_rfc3339());
        let assets: Vec<Value> = per_asset
            .into_iter()
            .map(|(asset, b)| {
                let volume: BTreeMap<String, String> = b
                    .volume
                    .into_iter()
                    .map(|(k, v)| (k, v.to_string()))
                    .collect();
                json!({"asset": asset, "events": b.events, "volume": volume})
            })
            .collect();
        json!({"window_minutes": minutes, "until": until, "assets": assets})
    }

    /// Takes in one batch of events: analytics from its columns, the
    /// newest rows kept as Arrow, and JSON only for rows sent to a client,
    /// so a sink nobody watches renders nothing.
    fn publish(&self, batch: &RecordBatch) -> anyhow::Result<()> {
        self.count(batch);
        self.keep_recent(batch)?;
        let clients: Vec<(u64, Arc<Client>)> = self
            .clients
            .lock()
            .iter()
            .map(|(id, c)| (*id, c.clone()))
            .collect();
        if clients.is_empty() {
            return Ok(());
        }
        for event in rows_as_json(batch)? {
            let text: Arc<str> = Arc::from(event.to_string());
            for (id, client) in &clients {
                if !client.subscription.lock().matches(&event) {
                    continue;
                }
                if client.queue.try_send(text.clone()).is_err() {
                    metrics::counter!("stellarflow_sink_websocket_slow_disconnects_total")
                        .increment(1);
                    tracing::warn!(client = id, "WebSocket client too slow; disconnecting it");
                    client.kicked.notify_one();
                    self.disconnect(*id);
                }
            }
        }
        Ok(())
    }

    /// Appends the batch's rows to the recent rows, keeping the newest
    /// `recent_capacity`. A batch holding that many rows or more is kept as
    /// a slice of itself (no copy; it holds at most this one batch alive);
    /// smaller ones are merged with the rows before into one compact copy,
    /// so that old batches are not held alive by slices.
    fn keep_recent(&self, batch: &RecordBatch) -> anyhow::Result<()> {
        let capacity = self.recent_capacity;
        let mut recent = self.recent.lock();
        let new_rows = batch.num_rows().min(capacity);
        let new = batch.slice(batch.num_rows() - new_rows, new_rows);
        if new_rows == capacity {
            *recent = Some(new);
            return Ok(());
        }
        let merged = match recent.take() {
            Some(old) if old.schema() == new.schema() => {
                let keep_old = old.num_rows().min(capacity - new_rows);
                let old = old.slice(old.num_rows() - keep_old, keep_old);
                arrow::compute::concat_batches(&new.schema(), [&old, &new])?
            }
            _ => arrow::compute::concat_batches(&new.schema(), [&new])?,
        };
        *recent = Some(merged);
        Ok(())
    }

    /// Adds a batch's events to the per-minute, per-asset buckets, reading
    /// the Arrow columns directly. Rows come in runs of one minute and
    /// asset, so a run is summed locally and looked up in the maps once.
    fn count(&self, batch: &RecordBatch) {
        use arrow::array::{Array, StringArray, TimestampSecondArray};
        let column = |name: &str| batch.column_by_name(name);
        let closed =
            column("closed_at").and_then(|c| c.as_any().downcast_ref::<TimestampSecondArray>());
        let asset = column("asset").and_then(|c| c.as_any().downcast_ref::<StringArray>());
        let kind = column("event_type").and_then(|c| c.as_any().downcast_ref::<StringArray>());
        let amount = column("amount").and_then(|c| c.as_any().downcast_ref::<StringArray>());
        let (Some(closed), Some(asset), Some(kind), Some(amount)) = (closed, asset, kind, amount)
        else {
            return; // not token-transfer rows (contract data): nothing to count
        };
        let mut minutes = self.minutes.lock();
        let mut run: Option<Run> = None;
        for row in 0..batch.num_rows() {
            if closed.is_null(row) {
                continue;
            }
            let minute = closed.value(row).div_euclid(60);
            let asset = if asset.is_null(row) {
                "(custom token)"
            } else {
                asset.value(row)
            };
            let kind = if kind.is_null(row) {
                "?"
            } else {
                kind.value(row)
            };
            let amount = if amount.is_null(row) {
                0
            } else {
                amount.value(row).parse::<i128>().unwrap_or(0)
            };
            match &mut run {
                Some(r) if r.minute == minute && r.asset == asset => r.add(kind, amount),
                _ => {
                    if let Some(done) = run.take() {
                        done.into(&mut minutes);
                    }
                    let mut fresh = Run {
                        minute,
                        asset,
                        events: 0,
                        volume: Vec::new(),
                    };
                    fresh.add(kind, amount);
                    run = Some(fresh);
                }
            }
        }
        if let Some(done) = run {
            done.into(&mut minutes);
        }
        if let Some(newest) = minutes.keys().next_back().copied() {
            minutes.retain(|m, _| *m > newest - 60);
        }
    }
}

/// Consecutive rows of one minute and asset, summed before they reach the
/// buckets.
struct Run<'a> {
    minute: i64,
    asset: &'a str,
    events: u64,
    /// Per event type; a handful of types, so a list beats a map.
    volume: Vec<(&'a str, i128)>,
}

impl<'a> Run<'a> {
    fn add(&mut self, kind: &'a str, amount: i128) {
        self.events += 1;
        match self.volume.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, sum)) => *sum = sum.saturating_add(amount),
            None => self.volume.push((kind, amount)),
        }
    }

    fn into(self, minutes: &mut BTreeMap<i64, AssetBuckets>) {
        let assets = minutes.entry(self.minute).or_default();
        let bucket = match assets.get_mut(self.asset) {
            Some(bucket) => bucket,
            None => assets.entry(self.asset.to_string()).or_default(),
        };
        bucket.events += self.events;
        for (kind, amount) in self.volume {
            match bucket.volume.get_mut(kind) {
                Some(slot) => *slot = slot.saturating_add(amount),
                None => {
                    bucket.volume.insert(kind.to_string(), amount);
                }
            }
        }
    }
}

/// Rows of a batch as JSON objects (every field, nulls explicit).
pub(crate) fn rows_as_json(batch: &RecordBatch) -> anyhow::Result<Vec<Value>> {
    let mut buffer = Vec::new();
    let mut writer = arrow::json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow::json::writer::JsonArray>(&mut buffer);
    writer.write(batch)?;
    writer.finish()?;
    drop(writer);
    if buffer.is_empty() {
        return Ok(Vec::new());
    }
    Ok(serde_json::from_slice(&buffer)?)
}

/// The feed as an output: no cursor, nothing to commit.
pub struct LiveOutput {
    feed: Arc<LiveFeed>,
}

impl LiveOutput {
    /// An output publishing to `feed`.
    pub fn new(feed: Arc<LiveFeed>) -> Self {
        LiveOutput { feed }
    }
}

impl Output for LiveOutput {
    fn describe(&self) -> String {
        "live feed (/ws, /api/events, /api/analytics)".into()
    }

    fn cursor(&self) -> Option<u32> {
        None
    }

    fn write(&mut self, batch: &RecordBatch, _meta: BatchMeta) -> anyhow::Result<()> {
        if batch.num_rows() > 0 {
            self.feed.publish(batch)?;
        }
        Ok(())
    }

    fn wants_commit(&self) -> bool {
        false
    }

    fn pending(&self) -> bool {
        false
    }

    fn commit(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
}
