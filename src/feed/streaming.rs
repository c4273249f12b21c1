//! `GET /api/client/streaming`: server-sent events in Unleash's streaming shape — a hydration on
//! connect, then one `unleash-updated` event per committed change (feed-protocols 2.5). A stream
//! ends when its token is revoked, before any later change reaches it (reliability L5), and when
//! the server stops (L4), so SDKs reconnect instead of holding a dead or unauthorised stream.

use super::client::{json, not_ready, refusal};
use super::snapshot::{hydration, Change};
use super::tokens::{Lease, Refusal};
use super::FeedState;
use crate::auth::tokens::TokenKind;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::stream::{self, Stream, StreamExt};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::{error::RecvError, Receiver};

pub fn routes() -> Router<FeedState> {
    Router::new().route("/api/client/streaming", get(stream_changes))
}

async fn stream_changes(State(feed): State<FeedState>, headers: HeaderMap) -> Response {
    let token = match feed.tokens.authorize(&headers, &[TokenKind::Client]) {
        Ok(t) => t,
        Err(r) => return refusal(r),
    };
    let mut lease = feed.tokens.lease(&token);
    if feed.tokens.streams_ended() {
        return stopping();
    }
    if lease.is_over() {
        // Revoked between the lookup and the lease.
        return refusal(Refusal::Unknown);
    }
    feed.usage.token_used(token.id);
    // Subscribe before reading the snapshot, so no change falls between the two.
    let rx = feed.snapshots.subscribe();
    let Some(snap) = feed.snapshots.get(token.environment_id) else {
        return not_ready();
    };
    let id = feed.snapshots.current_event_id();
    let first = Event::default()
        .event("unleash-connected")
        .id(id.to_string())
        .data(hydration(&snap, id));
    let updates = updates(feed, rx, lease, token.environment_id);
    let events = stream::once(async move { Ok(first) }).chain(updates);
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
        .into_response()
}

/// A stream asked for on a kept-alive connection while the server stops: come back later (to
/// this server once it is back, or to another replica), not "your token is bad".
fn stopping() -> Response {
    let mut res = json(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        r#"{"error":"stopping","message":"the server is stopping; reconnect in a moment"}"#,
    );
    res.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("1"),
    );
    res
}

/// This environment's changes, while the lease lasts; a listener that fell behind gets a fresh
/// hydration instead.
fn updates(
    feed: FeedState,
    rx: Receiver<Change>,
    lease: Lease,
    environment_id: i64,
) -> impl Stream<Item = Result<Event, Infallible>> {
    // Counted as open while the stream lives: the guard goes with its state.
    let open = crate::metrics::sdk::OpenStream::new();
    stream::unfold(
        (feed, rx, lease, open),
        move |(feed, mut rx, mut lease, open)| async move {
            loop {
                let received = tokio::select! {
                    // The lease first: the token index is replaced before the snapshots that follow
                    // it, so a change made after a revocation finds the lease already over.
                    biased;
                    _ = lease.ended() => return None,
                    received = rx.recv() => received,
                };
                match received {
                    Ok(c) if c.environment_id == environment_id => {
                        let event = Event::default()
                            .event("unleash-updated")
                            .id(c.event_id.to_string())
                            .data(c.data.as_str());
                        return Some((Ok(event), (feed, rx, lease, open)));
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => {
                        let snap = feed.snapshots.get(environment_id)?;
                        let id = feed.snapshots.current_event_id();
                        let event = Event::default()
                            .event("unleash-updated")
                            .id(id.to_string())
                            .data(hydration(&snap, id));
                        return Some((Ok(event), (feed, rx, lease, open)));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    )
}
