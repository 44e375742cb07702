//! Bounds a client cannot push past: a Flight server serves a capped
//! number of streams and refuses more with RESOURCE_EXHAUSTED, and its
//! gauges (open streams, work in flight) come back to zero when clients go
//! away mid-stream. In its own test binary, because metrics are
//! process-wide and other tests' servers would move the same gauges.

mod common;

use std::time::Duration;

use futures::StreamExt;
use stellarflow::flight::{FlightClientError, Ticket};
use stellarflow::security::ClientAccess;

/// The value of an unlabelled series on a `/metrics` page.
async fn gauge(http: std::net::SocketAddr, name: &str) -> Option<f64> {
    let text = reqwest::get(format!("http://{http}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn streams_beyond_the_cap_are_refused_and_gauges_return_to_zero() {
    let lake = tempfile::tempdir().unwrap();
    common::generate_lake(lake.path(), 100, 300);
    let source = common::start_source(lake.path().to_str().unwrap(), &[])
        .await
        .unwrap();
    let endpoint = source.flight_addr.to_string();
    let access = ClientAccess::default();

    // 64 clients each read one batch of a live stream, then stall.
    let mut stalled = Vec::new();
    for _ in 0..stellarflow::flight::DEFAULT_MAX_STREAMS {
        let mut stream = stellarflow::flight::fetch(&endpoint, Ticket::live(100), &access)
            .await
            .unwrap();
        stream.next().await.unwrap().unwrap();
        stalled.push(stream);
    }
    let refused = match stellarflow::flight::fetch(&endpoint, Ticket::live(100), &access).await {
        Err(FlightClientError::Status { code, message, .. }) => (code, message),
        Err(other) => panic!("expected a status, got {other}"),
        Ok(_) => panic!("the 65th stream must be refused"),
    };
    assert_eq!(refused.0, tonic::Code::ResourceExhausted, "{}", refused.1);
    assert!(refused.1.contains("64 streams"), "{}", refused.1);
    let open = gauge(source.http_addr, "stellarflow_flight_streams").await;
    assert_eq!(open, Some(64.0));

    // The clients go away mid-stream: every count comes back down, and a
    // new client is served again.
    drop(stalled);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let values = (
            gauge(source.http_addr, "stellarflow_flight_streams").await,
            gauge(source.http_addr, "stellarflow_source_inflight").await,
        );
        if values == (Some(0.0), Some(0.0)) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "(open streams, in flight) stayed at {values:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let batches = common::read_range(&endpoint, Ticket::range(100, 104))
        .await
        .unwrap();
    let ledgers: u32 = batches
        .iter()
        .map(|b| b.meta.last_ledger - b.meta.first_ledger + 1)
        .sum();
    assert_eq!(ledgers, 5);
    source.shutdown().await;
}
