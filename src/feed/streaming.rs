//! `GET /api/client/streaming`: server-sent events in Unleash's streaming shape — a hydration on
//! connect, then one `unleash-updated` event per committed change (feed-protocols 2.5).

use super::client::{not_ready, refusal};
use super::snapshot::{hydration, Change};
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
    let updates = updates(feed, rx, token.environment_id);
    let events = stream::once(async move { Ok(first) }).chain(updates);
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
        .into_response()
}

/// This environment's changes; a listener that fell behind gets a fresh hydration instead.
fn updates(
    feed: FeedState,
    rx: Receiver<Change>,
    environment_id: i64,
) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold((feed, rx), move |(feed, mut rx)| async move {
        loop {
            match rx.recv().await {
                Ok(c) if c.environment_id == environment_id => {
                    let event = Event::default()
                        .event("unleash-updated")
                        .id(c.event_id.to_string())
                        .data(c.data.as_str());
                    return Some((Ok(event), (feed, rx)));
                }
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => {
                    let snap = feed.snapshots.get(environment_id)?;
                    let id = feed.snapshots.current_event_id();
                    let event = Event::default()
                        .event("unleash-updated")
                        .id(id.to_string())
                        .data(hydration(&snap, id));
                    return Some((Ok(event), (feed, rx)));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}
