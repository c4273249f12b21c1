//! Unleash frontend API: `GET`/`POST /api/frontend`, flags evaluated for the caller's context.

use super::client::{etag_matches, json, not_modified, not_ready, refusal};
use super::FeedState;
use crate::auth::tokens::TokenKind;
use crate::evaluation::{frontend_context_from_body, frontend_context_from_query, RequestDefaults};
use crate::metrics::sdk::{Api, Post};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use std::net::SocketAddr;
use unleash_yggdrasil::Context;

pub fn routes() -> Router<FeedState> {
    Router::new()
        .route("/api/frontend", get(evaluate_get).post(evaluate_post))
        .route("/api/frontend/client/metrics", post(metrics))
        .route("/api/frontend/client/register", post(register))
}

fn defaults(peer: SocketAddr) -> RequestDefaults {
    RequestDefaults {
        caller_ip: Some(peer.ip()),
        session_id: Some(uuid::Uuid::new_v4().simple().to_string()),
    }
}

async fn evaluate_get(
    State(feed): State<FeedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let ctx = frontend_context_from_query(&pairs, &defaults(peer));
    answer(&feed, &headers, &ctx)
}

async fn evaluate_post(
    State(feed): State<FeedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match frontend_context_from_body(&body, &defaults(peer)) {
        Ok(ctx) => answer(&feed, &headers, &ctx),
        Err(e) => json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "invalid-context", "message": e.to_string()}).to_string(),
        ),
    }
}

fn answer(feed: &FeedState, headers: &HeaderMap, ctx: &Context) -> Response {
    let token = match feed.tokens.authorize(headers, &[TokenKind::Frontend]) {
        Ok(t) => t,
        Err(r) => return refusal(r),
    };
    feed.usage.token_used(token.id);
    let Some(snap) = feed.snapshots.get(token.environment_id) else {
        return not_ready();
    };
    let out = snap.compiled.frontend_toggles(ctx);
    // The frontend API lists only flags that are on; those are the evaluations it can count.
    feed.usage.evaluated(
        token.environment_id,
        out.toggles.iter().map(|t| (t.name, true)),
    );
    if etag_matches(headers, &out.etag) {
        return not_modified(&out.etag);
    }
    let mut res = json(StatusCode::OK, out.body);
    if let Ok(v) = HeaderValue::from_str(&out.etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

async fn register(State(feed): State<FeedState>, headers: HeaderMap, body: Bytes) -> Response {
    report(&feed, &headers, &body, Post::Registration)
}

async fn metrics(State(feed): State<FeedState>, headers: HeaderMap, body: Bytes) -> Response {
    report(&feed, &headers, &body, Post::Metrics)
}

/// Browser SDKs report like server SDKs, answered with 200 as Unleash does.
fn report(feed: &FeedState, headers: &HeaderMap, body: &[u8], post: Post) -> Response {
    let res =
        super::client::accept_report(feed, headers, body, &[TokenKind::Frontend], StatusCode::OK);
    super::client::counted(Api::Frontend, post, res)
}
