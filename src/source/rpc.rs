//! The Stellar RPC backend: `getLedgers` with cursor paging and base64 XDR,
//! `getHealth`/`getLatestLedger` to know the tip, `getNetwork` to check the
//! passphrase. 429 and 5xx replies are retried with exponential backoff; a
//! reply that is not what the API documents is an error naming the method
//! and ledger, never a silent skip.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::error::SourceError;
use super::stats::SourceStats;
use super::Held;
use super::SourcedLedger;
use crate::config::SourceSettings;
use crate::flight::Ticket;
use crate::retry::Backoff;
use crate::stellar::{LedgerSummary, Network};
use crate::telemetry::InFlight;

/// Ledgers asked for per `getLedgers` page.
const PAGE: u32 = 100;
/// Attempts for a request before giving up.
const ATTEMPTS: u32 = 8;
/// Waits between attempts of one call.
const RPC_BACKOFF: Backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));

/// A Stellar RPC server.
pub struct Rpc {
    client: reqwest::Client,
    url: String,
    network: Network,
    poll: Duration,
    depth: u32,
    prefetch: usize,
    stats: Arc<SourceStats>,
}

impl Rpc {
    /// Connects to `url`, checking its network against `--network`.
    pub async fn open(
        url: &str,
        settings: &SourceSettings,
        stats: Arc<SourceStats>,
    ) -> anyhow::Result<Self> {
        crate::runtime::install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build an HTTP client: {e}"))?;
        let mut rpc = Rpc {
            client,
            url: url.to_string(),
            network: Network::from_passphrase(""),
            poll: settings.poll_interval,
            depth: settings.xdr_depth,
            prefetch: settings.max_inflight.max(1) as usize,
            stats,
        };
        let reply = rpc
            .call("getNetwork", json!({}))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let passphrase = reply
            .get("passphrase")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                anyhow::anyhow!("{url}: malformed getNetwork reply (no passphrase): {reply}")
            })?;
        let served = Network::from_passphrase(passphrase);
        if let Some(wanted) = settings.network.as_deref() {
            let wanted = Network::parse(wanted)
                .map_err(|e| anyhow::anyhow!("invalid value for --network: {e}"))?;
            anyhow::ensure!(
                wanted == served,
                "network mismatch: --network is {wanted} but {url} serves {served}"
            );
        }
        tracing::info!(%url, network = %served.name(), "Stellar RPC connected");
        rpc.network = served;
        Ok(rpc)
    }

    /// The RPC's network.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The RPC URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// One JSON-RPC call, retried on connection errors, 429 and 5xx.
    async fn call(&self, method: &str, params: Value) -> Result<Value, SourceError> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let what = format!("{method} at {}", self.url);
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(RPC_BACKOFF.delay(attempt - 1)).await;
            }
            let response = match self.client.post(&self.url).json(&body).send().await {
                Ok(r) => r,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            let status = response.status();
            if status.as_u16() == 429 || status.is_server_error() {
                last = format!("HTTP {status}");
                tracing::warn!(%what, %status, attempt, "RPC busy or failing; backing off");
                continue;
            }
            let text = response
                .text()
                .await
                .map_err(|e| SourceError::Unavailable {
                    what: what.clone(),
                    detail: e.to_string(),
                })?;
            self.stats.read(text.len());
            let reply: Value = serde_json::from_str(&text)
                .map_err(|e| malformed(&what, 0, format!("not JSON ({e}): {}", preview(&text))))?;
            if let Some(error) = reply.get("error") {
                let message = error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("no message");
                return Err(SourceError::OutOfRange(format!(
                    "{what} refused: {message}"
                )));
            }
            if !status.is_success() {
                return Err(SourceError::Unavailable {
                    what,
                    detail: format!("HTTP {status}: {}", preview(&text)),
                });
            }
            return reply
                .get("result")
                .cloned()
                .ok_or_else(|| malformed(&what, 0, format!("no `result`: {}", preview(&text))));
        }
        Err(SourceError::Unavailable {
            what,
            detail: format!("gave up after {ATTEMPTS} attempts: {last}"),
        })
    }

    /// The newest ledger the RPC has.
    pub async fn latest(&self) -> Result<u32, SourceError> {
        let reply = self.call("getLatestLedger", json!({})).await?;
        reply
            .get("sequence")
            .and_then(Value::as_u64)
            .map(|s| s as u32)
            .ok_or_else(|| malformed("getLatestLedger", 0, format!("no `sequence`: {reply}")))
    }

    /// The RPC's retention window.
    pub async fn available(&self) -> Result<Option<(u32, u32)>, SourceError> {
        let reply = self.call("getHealth", json!({})).await?;
        let field = |name: &str| reply.get(name).and_then(Value::as_u64).map(|v| v as u32);
        Ok(field("oldestLedger").zip(field("latestLedger")))
    }

    /// Ledgers of `ticket`, fetched page by page by a background task into a
    /// bounded channel.
    pub fn stream(
        self: Arc<Self>,
        ticket: Ticket,
    ) -> BoxStream<'static, Result<SourcedLedger, SourceError>> {
        let (tx, rx) = mpsc::channel(self.prefetch);
        tokio::spawn(async move {
            if let Err(e) = self.pump(ticket, &tx).await {
                let _ = tx.send(Err(e)).await;
            }
        });
        tokio_stream::wrappers::ReceiverStream::new(rx).boxed()
    }

    async fn pump(
        &self,
        ticket: Ticket,
        tx: &mpsc::Sender<Result<SourcedLedger, SourceError>>,
    ) -> Result<(), SourceError> {
        let mut next = ticket.start;
        let mut cursor: Option<String> = None;
        loop {
            if ticket.end.is_some_and(|end| next > end) {
                return Ok(());
            }
            let limit = ticket
                .end
                .map(|end| (end - next + 1).min(PAGE))
                .unwrap_or(PAGE);
            let params = match &cursor {
                Some(c) => {
                    json!({"pagination": {"cursor": c, "limit": limit}, "xdrFormat": "base64"})
                }
                None => {
                    json!({"startLedger": next, "pagination": {"limit": limit}, "xdrFormat": "base64"})
                }
            };
            let reply = match self.call("getLedgers", params).await {
                Ok(reply) => reply,
                // Asking beyond the tip: wait for the network to get there.
                Err(SourceError::OutOfRange(_))
                    if self.latest().await.is_ok_and(|latest| next > latest) =>
                {
                    tokio::time::sleep(self.poll).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let ledgers = reply
                .get("ledgers")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    malformed(
                        "getLedgers",
                        next,
                        format!("no `ledgers` array: {}", preview(&reply.to_string())),
                    )
                })?;
            if ledgers.is_empty() {
                tokio::time::sleep(self.poll).await;
                continue;
            }
            let depth = self.depth;
            let page: Vec<Value> = ledgers.clone();
            let expected_first = next;
            let decoded =
                tokio::task::spawn_blocking(move || decode_page(&page, expected_first, depth))
                    .await
                    .map_err(|e| SourceError::Unavailable {
                        what: "decoder thread".into(),
                        detail: e.to_string(),
                    })??;
            for ledger in decoded {
                if ticket.end.is_some_and(|end| ledger.summary.sequence > end) {
                    return Ok(());
                }
                next = ledger.summary.sequence + 1;
                let ledger = SourcedLedger {
                    _held: Some(Arc::new(Held::new(
                        InFlight::new(self.stats.clone(), 1),
                        None,
                    ))),
                    ..ledger
                };
                if tx.send(Ok(ledger)).await.is_err() {
                    return Ok(()); // the consumer went away
                }
            }
            cursor = reply
                .get("cursor")
                .and_then(Value::as_str)
                .map(String::from);
        }
    }
}

fn malformed(what: &str, ledger: u32, detail: String) -> SourceError {
    SourceError::Corrupt {
        object: format!("malformed RPC reply to {what}"),
        first: ledger,
        last: ledger,
        detail,
    }
}

fn preview(text: &str) -> String {
    let cut: String = text.chars().take(160).collect();
    if cut.len() < text.len() {
        format!("{cut}...")
    } else {
        cut
    }
}

/// Decodes a page of `getLedgers` ledgers, which must be consecutive from
/// `first`.
fn decode_page(page: &[Value], first: u32, depth: u32) -> Result<Vec<SourcedLedger>, SourceError> {
    let mut out = Vec::with_capacity(page.len());
    for (i, item) in page.iter().enumerate() {
        let expected = first + i as u32;
        let sequence = item
            .get("sequence")
            .and_then(Value::as_u64)
            .map(|s| s as u32);
        let seq = sequence.unwrap_or(expected);
        let bad = |detail: String| malformed("getLedgers", seq, detail);
        if sequence != Some(expected) {
            return Err(bad(format!(
                "expected ledger {expected}, got {:?}",
                item.get("sequence")
            )));
        }
        let b64 = item
            .get("metadataXdr")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("ledger without `metadataXdr` (xdrFormat base64)".into()))?;
        let xdr = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| bad(format!("`metadataXdr` is not base64: {e}")))?;
        let summary = LedgerSummary::from_xdr(&xdr, depth).map_err(&bad)?;
        if summary.sequence != expected {
            return Err(bad(format!(
                "metadataXdr holds ledger {}",
                summary.sequence
            )));
        }
        let xdr = Bytes::from(xdr);
        out.push(SourcedLedger {
            summary,
            origin: xdr.clone(),
            xdr,
            _held: None,
        });
    }
    Ok(out)
}
