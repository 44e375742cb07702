//! Reading a range from an upstream role (the processor reads the source,
//! the sink reads the processor): follows the discovered endpoint,
//! reconnects with backoff when the upstream goes away, and resumes at the
//! ledger after the last complete batch, so there is no gap and no
//! duplicate. Refusals (bad range, missing or corrupt data) pass through
//! with the upstream's status and message.

use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::sync::watch;
use tonic::Status;

use super::client::{fetch, FlightClientError, LedgerBatchStream};
use super::server::LedgerBatch;
use super::ticket::{Form, Ticket};
use crate::retry::Backoff;
use crate::security::ClientAccess;

/// Waits before reconnecting to an upstream that went away (0.4 s after
/// the first failure, at most 5 s).
const RECONNECT_BACKOFF: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));

/// The upstream's refusal, naming which role refused so that a message
/// relayed through several hops still says where it started.
fn status(role: &str, error: FlightClientError) -> Status {
    match error {
        FlightClientError::Status {
            endpoint,
            code,
            message,
        } => Status::new(code, format!("upstream {role} {endpoint}: {message}")),
        other => Status::unavailable(other.to_string()),
    }
}

struct Reader {
    role: &'static str,
    endpoint: watch::Receiver<String>,
    next: u32,
    end: Option<u32>,
    form: Form,
    current: Option<LedgerBatchStream>,
    failures: u32,
    done: bool,
    access: ClientAccess,
}

impl Reader {
    async fn backoff(&mut self, why: &str) {
        self.failures += 1;
        let delay = RECONNECT_BACKOFF.delay(self.failures);
        metrics::counter!("flowctl_reconnection_events_total").increment(1);
        tracing::warn!(next = self.next, endpoint = %*self.endpoint.borrow(), ?delay, "upstream {}: {why}; reconnecting", self.role);
        tokio::time::sleep(delay).await;
    }

    async fn next(&mut self) -> Option<Result<LedgerBatch, Status>> {
        loop {
            if self.done || self.end.is_some_and(|end| self.next > end) {
                return None;
            }
            if self.current.is_none() {
                let endpoint = self.endpoint.borrow().clone();
                match fetch(
                    &endpoint,
                    Ticket {
                        start: self.next,
                        end: self.end,
                        form: self.form,
                    },
                    &self.access,
                )
                .await
                {
                    Ok(stream) => self.current = Some(stream),
                    Err(e) if e.is_transient() => {
                        self.backoff(&e.to_string()).await;
                        continue;
                    }
                    Err(e) => {
                        self.done = true;
                        return Some(Err(status(self.role, e)));
                    }
                }
            }
            let item = match self.current.as_mut() {
                Some(stream) => stream.next().await,
                None => continue,
            };
            match item {
                Some(Ok(batch)) => {
                    self.failures = 0;
                    if batch.meta.last_ledger < self.next {
                        continue; // already delivered before a reconnect
                    }
                    self.next = batch.meta.last_ledger + 1;
                    return Some(Ok(batch));
                }
                Some(Err(e)) if e.is_transient() => {
                    self.current = None;
                    self.backoff(&e.to_string()).await;
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(status(self.role, e)));
                }
                None => {
                    self.current = None;
                    if self.end.is_some_and(|end| self.next > end) {
                        return None;
                    }
                    self.backoff("stream ended before the range was complete")
                        .await;
                }
            }
        }
    }
}

/// Batches of `ticket` from the upstream `role` (named in errors) at (the
/// current value of) `endpoint`, presenting `access`.
pub fn ledger_batches(
    role: &'static str,
    endpoint: watch::Receiver<String>,
    ticket: Ticket,
    access: ClientAccess,
) -> BoxStream<'static, Result<LedgerBatch, Status>> {
    let reader = Reader {
        role,
        endpoint,
        next: ticket.start,
        end: ticket.end,
        form: ticket.form,
        current: None,
        failures: 0,
        done: false,
        access,
    };
    futures::stream::unfold(reader, |mut r| async move {
        r.next().await.map(|item| (item, r))
    })
    .boxed()
}
