//! The sink's HTTP routes beside `/health` and `/metrics`: `GET /ws` (the
//! live feed), `GET /api/events?limit=N`, `GET /api/analytics?window=…`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::live::{LiveFeed, Subscription};
use super::stats::SinkStats;

/// The routes, sharing `feed` and `stats`.
pub(crate) fn router(feed: Arc<LiveFeed>, stats: Arc<SinkStats>) -> Router {
    let progress = Router::new()
        .route("/api/progress", get(progress))
        .with_state(stats);
    Router::new()
        .route("/ws", get(websocket))
        .route("/api/events", get(events))
        .route("/api/analytics", get(analytics))
        .with_state(feed)
        .merge(progress)
}

async fn progress(State(stats): State<Arc<SinkStats>>) -> impl IntoResponse {
    Json(stats.progress())
}

#[derive(Deserialize)]
struct Limit {
    limit: Option<usize>,
}

async fn events(State(feed): State<Arc<LiveFeed>>, Query(q): Query<Limit>) -> Response {
    let limit = q.limit.unwrap_or(100).min(10_000);
    match feed.recent(limit) {
        Ok(events) => Json(json!({ "events": events })).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot render recent events: {e}"),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
struct Window {
    window: Option<String>,
}

async fn analytics(State(feed): State<Arc<LiveFeed>>, Query(q): Query<Window>) -> Response {
    let window = q.window.unwrap_or_else(|| "5m".into());
    let minutes = match window.as_str() {
        "1m" => 1,
        "5m" => 5,
        "1h" => 60,
        other => {
            let body =
                json!({"error": format!("window {other:?} is not supported: use 1m, 5m or 1h")});
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
    };
    let mut body = feed.analytics(minutes);
    body["window"] = json!(window);
    Json(body).into_response()
}

/// `/ws?event_types=a,b&assets=..&accounts=..`: a filter that applies
/// from the first event.
#[derive(Deserialize, Default)]
struct Initial {
    event_types: Option<String>,
    assets: Option<String>,
    accounts: Option<String>,
}

impl Initial {
    fn subscription(self) -> Subscription {
        let list = |v: Option<String>| -> Vec<String> {
            v.map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
        };
        Subscription {
            event_types: list(self.event_types),
            assets: list(self.assets),
            accounts: list(self.accounts),
        }
    }
}

async fn websocket(
    State(feed): State<Arc<LiveFeed>>,
    Query(initial): Query<Initial>,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !feed.websocket {
        let body =
            json!({"error": "the WebSocket feed is off: start the sink with --output websocket"});
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    }
    let subscription = initial.subscription();
    upgrade.on_upgrade(move |socket| serve(feed, socket, subscription))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    subscribe: Subscription,
}

/// Sends matching events, pings every 30 s, takes subscription changes,
/// and closes with a reason when the client falls behind.
async fn serve(feed: Arc<LiveFeed>, mut socket: WebSocket, subscription: Subscription) {
    let (id, client, mut queue) = feed.connect(subscription);
    let mut ping = tokio::time::interval(Duration::from_secs(30));
    ping.tick().await;
    loop {
        tokio::select! {
            event = queue.recv() => match event {
                Some(text) => {
                    if socket.send(Message::Text(text.as_ref().into())).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            _ = client.kicked.notified() => {
                let frame = CloseFrame { code: 1008, reason: "too slow: the event queue overflowed; reconnect and resubscribe".into() };
                let _ = socket.send(Message::Close(Some(frame))).await;
                break;
            }
            _ = ping.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let reply = match serde_json::from_str::<Request>(&text) {
                        Ok(request) => {
                            *client.subscription.lock() = request.subscribe.clone();
                            json!({"subscribed": {
                                "event_types": request.subscribe.event_types,
                                "assets": request.subscribe.assets,
                                "accounts": request.subscribe.accounts,
                            }})
                        }
                        Err(e) => json!({"error": format!("expected {{\"subscribe\": {{\"event_types\": [...], \"assets\": [...], \"accounts\": [...]}}}}: {e}")}),
                    };
                    if socket.send(Message::Text(reply.to_string().into())).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    feed.disconnect(id);
}
