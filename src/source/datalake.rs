//! The data-lake backend: SEP-54 objects on local disk, S3 or GCS through
//! object_store. Objects are fetched ahead in parallel (bounded by
//! `--prefetch`) and decoded on blocking threads, yet yielded strictly in
//! ledger order. Both object suffixes are tried; transient storage errors
//! are retried by object_store itself; in live mode a missing next object
//! is polled for until it appears.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use super::error::SourceError;
use super::stats::SourceStats;
use super::{Held, LakeObject, SourcedLedger};
use crate::config::SourceSettings;
use crate::flight::Ticket;
use crate::stellar::lake::{range_from_name, MANIFEST, SUFFIXES};
use crate::stellar::{decompress, summarize_batch, DecodeError, LakeLayout, Manifest, Network};
use crate::telemetry::InFlight;
use tokio::sync::Semaphore;

/// An opened data lake.
pub struct DataLake {
    store: Arc<dyn ObjectStore>,
    url: String,
    layout: LakeLayout,
    network: Network,
    /// Objects read ahead when they are decoded here (ledger rows).
    prefetch: usize,
    /// Objects read ahead when they are passed on compressed (the objects
    /// form): a seventh of the memory each, and the batcher only fills a
    /// batch with objects already read, so a deeper read-ahead means
    /// fuller batches downstream.
    prefetch_objects: usize,
    poll: Duration,
    depth: u32,
    stats: Arc<SourceStats>,
    /// Decompressed bytes held at once, in KiB permits.
    budget: Arc<Semaphore>,
    /// The budget's size in KiB; one object may take a `prefetch`th of it.
    budget_kib: u32,
}

/// Opens the object store a lake URL names: a path or `file://` (local
/// disk), `s3://bucket/prefix`, `gs://bucket/prefix`.
fn open_store(url: &str, settings: &SourceSettings) -> anyhow::Result<Arc<dyn ObjectStore>> {
    use object_store::prefix::PrefixStore;
    let prefix_of = |parsed: &url::Url| parsed.path().trim_matches('/').to_string();
    if url.starts_with("s3://") {
        let parsed =
            url::Url::parse(url).map_err(|e| anyhow::anyhow!("invalid --datalake {url:?}: {e}"))?;
        let bucket = parsed
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("invalid --datalake {url:?}: no bucket"))?;
        let mut builder = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_skip_signature(settings.s3_anonymous);
        let region = settings
            .s3_region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .unwrap_or_else(|| "us-east-1".into());
        builder = builder.with_region(region);
        if let Some(endpoint) = &settings.s3_endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let store = builder
            .build()
            .map_err(|e| anyhow::anyhow!("cannot open {url}: {e}"))?;
        return Ok(Arc::new(PrefixStore::new(store, prefix_of(&parsed))));
    }
    if url.starts_with("gs://") {
        let parsed =
            url::Url::parse(url).map_err(|e| anyhow::anyhow!("invalid --datalake {url:?}: {e}"))?;
        let bucket = parsed
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("invalid --datalake {url:?}: no bucket"))?;
        let store = object_store::gcp::GoogleCloudStorageBuilder::from_env()
            .with_bucket_name(bucket)
            .with_skip_signature(settings.s3_anonymous)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot open {url}: {e}"))?;
        return Ok(Arc::new(PrefixStore::new(store, prefix_of(&parsed))));
    }
    let path = url.strip_prefix("file://").unwrap_or(url);
    let path = std::path::absolute(path)
        .map_err(|e| anyhow::anyhow!("invalid --datalake {url:?}: {e}"))?;
    if !path.is_dir() {
        anyhow::bail!("--datalake {url}: {} is not a directory", path.display());
    }
    Ok(Arc::new(
        object_store::local::LocalFileSystem::new_with_prefix(&path)?,
    ))
}

impl DataLake {
    /// Opens the lake at `url`, reading its manifest and refusing a network
    /// mismatch with `--network`.
    pub async fn open(
        url: &str,
        settings: &SourceSettings,
        stats: Arc<SourceStats>,
    ) -> anyhow::Result<Self> {
        let store = open_store(url, settings)?;
        let manifest = match store.get(&Path::from(MANIFEST)).await {
            Ok(found) => {
                let bytes = found
                    .bytes()
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot read {url}/{MANIFEST}: {e}"))?;
                Some(serde_json::from_slice::<Manifest>(&bytes).map_err(|e| {
                    anyhow::anyhow!("{url}/{MANIFEST} is not a valid lake manifest: {e}")
                })?)
            }
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => anyhow::bail!("cannot read {url}/{MANIFEST}: {e}"),
        };
        let configured = settings
            .network
            .as_deref()
            .map(Network::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("invalid value for --network: {e}"))?;
        let network = match (&manifest, configured) {
            (Some(m), Some(wanted)) if m.network_passphrase != wanted.passphrase => anyhow::bail!(
                "network mismatch: --network is {wanted} but {url}/{MANIFEST} is for {}; point --datalake at a {} lake or change --network",
                Network::from_passphrase(&m.network_passphrase),
                wanted.name()
            ),
            (Some(m), _) => Network::from_passphrase(&m.network_passphrase),
            (None, Some(wanted)) => wanted,
            (None, None) => anyhow::bail!("{url} has no {MANIFEST}: pass --network so its ledgers can be checked"),
        };
        let layout = match &manifest {
            Some(m) => LakeLayout::from_manifest(m),
            None => LakeLayout {
                ledgers_per_batch: settings.ledgers_per_batch.max(1),
                batches_per_partition: settings.batches_per_partition.max(1),
            },
        };
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let (prefetch, prefetch_objects) = match settings.prefetch {
            0 => (2 * cores, 16 * cores),
            n => (n as usize, n as usize),
        };
        let budget_kib = u32::try_from(settings.max_decompressed_bytes / 1024).unwrap_or(u32::MAX);
        tracing::info!(%url, network = %network.name(), ?layout, prefetch, prefetch_objects, "data lake opened");
        Ok(DataLake {
            store,
            url: url.to_string(),
            layout,
            network,
            prefetch,
            prefetch_objects,
            poll: settings.poll_interval,
            depth: settings.xdr_depth,
            stats,
            budget: Arc::new(Semaphore::new(budget_kib as usize)),
            budget_kib,
        })
    }

    /// The lake's network.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The lake's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Reads one object; `None` when it does not exist. Not retried here:
    /// object_store's cloud stores already retry transient errors (10
    /// times, with backoff), and a local disk's errors are not transient.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, SourceError> {
        let path = Path::from(key);
        let result = match self.store.get(&path).await {
            Ok(found) => found.bytes().await,
            Err(e) => Err(e),
        };
        match result {
            Ok(bytes) => {
                self.stats.read(bytes.len());
                Ok(Some(bytes))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(SourceError::Unavailable {
                what: format!("{}/{key}", self.url),
                detail: e.to_string(),
            }),
        }
    }

    /// Fetches the object starting at `batch_start` under either suffix;
    /// in live mode waits for it to appear.
    async fn fetch(&self, batch_start: u32, live: bool) -> Result<(String, Bytes), SourceError> {
        let mut last_note = std::time::Instant::now();
        loop {
            for suffix in SUFFIXES {
                let key = self.layout.object_key(batch_start, suffix);
                if let Some(bytes) = self.get(&key).await? {
                    return Ok((key, bytes));
                }
            }
            let key = self.layout.object_key(batch_start, SUFFIXES[0]);
            if !live {
                return Err(SourceError::Missing {
                    object: key,
                    ledger: batch_start,
                });
            }
            if last_note.elapsed() >= Duration::from_secs(60) {
                tracing::info!(object = %key, "waiting for the next ledger to appear in the lake");
                last_note = std::time::Instant::now();
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Fetches and decodes one object (decoding on a blocking thread),
    /// within the decompression budget: it first reserves what the object
    /// declares it decompresses to (or a guess from its compressed size),
    /// and, when the guess was short, the most any object may take. The
    /// reservation is held until the object's last ledger is sent or
    /// dropped, so prefetching many objects cannot exceed the budget.
    async fn load(
        self: Arc<Self>,
        batch_start: u32,
        live: bool,
    ) -> Result<Vec<SourcedLedger>, SourceError> {
        let (key, bytes) = self.fetch(batch_start, live).await?;
        // Each object may take its share of the budget: the read-ahead of
        // one stream then always fits, so the object at the head of the
        // line never waits for permits held by those queued behind it.
        let cap = (self.budget_kib as usize / self.prefetch.max(1)).max(1) * 1024;
        let corrupt = |detail: String| SourceError::Corrupt {
            object: key.clone(),
            first: batch_start,
            last: self.layout.batch_end(batch_start),
            detail,
        };
        let declared = zstd::zstd_safe::get_frame_content_size(&bytes)
            .ok()
            .flatten()
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        if let Some(size) = declared.filter(|size| *size > cap) {
            return Err(corrupt(format!(
                "declares {size} bytes decompressed, more than an object may take ({cap} bytes: source.max_decompressed_bytes / prefetch)"
            )));
        }
        let guess = declared
            .unwrap_or(bytes.len().saturating_mul(16))
            .clamp(1, cap);
        let mut attempt = Some(guess);
        let (raw, permit) = loop {
            let Some(limit) = attempt.take() else {
                return Err(corrupt(format!(
                    "decompresses to more than an object may take ({cap} bytes: source.max_decompressed_bytes / prefetch)"
                )));
            };
            let kib = u32::try_from(limit.div_ceil(1024)).unwrap_or(u32::MAX);
            let permit = self
                .budget
                .clone()
                .acquire_many_owned(kib)
                .await
                .map_err(|e| SourceError::Unavailable {
                    what: "decompression budget".into(),
                    detail: e.to_string(),
                })?;
            let compressed = bytes.clone();
            let result = tokio::task::spawn_blocking(move || decompress(&compressed, limit))
                .await
                .map_err(|e| SourceError::Unavailable {
                    what: "decoder thread".into(),
                    detail: e.to_string(),
                })?;
            match result {
                Ok(raw) => break (raw, permit),
                // The guess was short for an object that does not declare
                // its size: once more, with room for the largest allowed.
                Err(DecodeError::TooLarge(_)) if declared.is_none() && limit < cap => {
                    drop(permit);
                    attempt = Some(cap);
                }
                Err(DecodeError::TooLarge(_)) => attempt = None,
                Err(e) => return Err(corrupt(e.to_string())),
            }
        };
        let layout = self.layout;
        let depth = self.depth;
        let ledgers = tokio::task::spawn_blocking(move || {
            decode_object(&key, raw, layout, depth, batch_start)
        })
        .await
        .map_err(|e| SourceError::Unavailable {
            what: "decoder thread".into(),
            detail: e.to_string(),
        })??;
        let held = Arc::new(Held::new(
            InFlight::new(self.stats.clone(), ledgers.len() as i64),
            Some(permit),
        ));
        Ok(ledgers
            .into_iter()
            .map(|ledger| SourcedLedger {
                _held: Some(held.clone()),
                ..ledger
            })
            .collect())
    }

    /// Ledgers of `ticket` in order; errors are items, so a consumer may
    /// skip them (`--on-error skip`) or stop.
    pub fn stream(
        self: Arc<Self>,
        ticket: Ticket,
    ) -> BoxStream<'static, Result<SourcedLedger, SourceError>> {
        let live = ticket.end.is_none();
        let prefetch = self.prefetch;
        self.prefetched(ticket, prefetch, move |lake, start| lake.load(start, live))
            .flat_map(move |result| {
                let items: Vec<Result<SourcedLedger, SourceError>> = match result {
                    Ok(ledgers) => ledgers
                        .into_iter()
                        .filter(|l| ticket.contains(l.summary.sequence))
                        .map(Ok)
                        .collect(),
                    Err(e) => vec![Err(e)],
                };
                futures::stream::iter(items)
            })
            .boxed()
    }

    /// The objects holding `ticket`'s ledgers, in order and as stored: not
    /// decompressed or checked here (the consumer does both).
    pub fn objects(
        self: Arc<Self>,
        ticket: Ticket,
    ) -> BoxStream<'static, Result<LakeObject, SourceError>> {
        let live = ticket.end.is_none();
        let layout = self.layout;
        let prefetch = self.prefetch_objects;
        self.prefetched(ticket, prefetch, move |lake, start| async move {
            let (key, bytes) = lake.fetch(start, live).await?;
            Ok(LakeObject {
                key,
                first: start,
                last: layout.batch_end(start),
                bytes,
                _held: Some(Arc::new(Held::new(
                    InFlight::new(lake.stats.clone(), 1),
                    None,
                ))),
            })
        })
        .boxed()
    }

    /// `load` for each object of `ticket`, in order, each in its own task
    /// so that read-ahead runs while the consumer is busy sending;
    /// `buffered` bounds it (`prefetch` objects) and keeps the order.
    fn prefetched<T, F, Fut>(
        self: Arc<Self>,
        ticket: Ticket,
        prefetch: usize,
        load: F,
    ) -> impl futures::Stream<Item = Result<T, SourceError>> + Send + 'static
    where
        T: Send + 'static,
        F: Fn(Arc<Self>, u32) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T, SourceError>> + Send + 'static,
    {
        let layout = self.layout;
        let last = ticket.end.unwrap_or(u32::MAX);
        let step = layout.ledgers_per_batch;
        let starts = (layout.batch_start(ticket.start)..=last).step_by(step as usize);
        futures::stream::iter(starts)
            .map(move |start| {
                let task = tokio::spawn(load(self.clone(), start));
                async move {
                    task.await.unwrap_or_else(|e| {
                        Err(SourceError::Unavailable {
                            what: "object loader".into(),
                            detail: e.to_string(),
                        })
                    })
                }
            })
            .buffered(prefetch)
    }

    /// The first and last ledger in the lake, from partition and object
    /// names (two or three listings, not a full scan).
    pub async fn available(&self) -> Result<Option<(u32, u32)>, SourceError> {
        let unavailable = |e: object_store::Error| SourceError::Unavailable {
            what: format!("listing {}", self.url),
            detail: e.to_string(),
        };
        let root = self
            .store
            .list_with_delimiter(None)
            .await
            .map_err(unavailable)?;
        let mut partitions: Vec<(u32, Path)> = root
            .common_prefixes
            .into_iter()
            .filter_map(|p| Some((range_from_name(p.filename()?)?.0, p)))
            .collect();
        partitions.sort_by_key(|(start, _)| *start);
        let objects_in = |listing: Vec<object_store::ObjectMeta>| -> Vec<(u32, u32)> {
            listing
                .into_iter()
                .filter_map(|o| range_from_name(o.location.filename()?))
                .collect()
        };
        let ranges = if partitions.is_empty() {
            objects_in(root.objects)
        } else {
            let mut ranges = Vec::new();
            for (_, partition) in [partitions.first(), partitions.last()]
                .into_iter()
                .flatten()
            {
                let listing = self
                    .store
                    .list_with_delimiter(Some(partition))
                    .await
                    .map_err(unavailable)?;
                ranges.extend(objects_in(listing.objects));
            }
            ranges
        };
        Ok(ranges
            .iter()
            .map(|r| r.0)
            .min()
            .zip(ranges.iter().map(|r| r.1).max()))
    }
}

/// Decompresses and decodes one object, checking that it holds the ledgers
/// its name promises and that every header hash is right.
fn decode_object(
    key: &str,
    raw: Vec<u8>,
    layout: LakeLayout,
    depth: u32,
    batch_start: u32,
) -> Result<Vec<SourcedLedger>, SourceError> {
    let batch_end = layout.batch_end(batch_start);
    let corrupt = |detail: String| SourceError::Corrupt {
        object: key.to_string(),
        first: batch_start,
        last: batch_end,
        detail,
    };
    let origin = Bytes::from(raw);
    let batch = summarize_batch(origin.clone(), depth).map_err(|e| corrupt(e.to_string()))?;
    let (start, end) = (batch.start, batch.end);
    if start != batch_start || end != batch_end {
        return Err(corrupt(format!(
            "the object holds ledgers {start}-{end} but its key says {batch_start}-{batch_end}"
        )));
    }
    Ok(batch
        .ledgers
        .into_iter()
        .map(|(summary, xdr)| SourcedLedger {
            summary,
            xdr,
            origin: origin.clone(),
            _held: None,
        })
        .collect())
}
