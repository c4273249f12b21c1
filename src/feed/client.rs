//! Unleash client API: `GET /api/client/features`, `POST /api/client/register`, `POST /api/client/metrics`.

use super::tokens::Refusal;
use super::FeedState;
use crate::auth::tokens::TokenKind;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

pub fn routes() -> Router<FeedState> {
    Router::new()
        .route("/api/client/features", get(features))
        .route("/api/client/register", post(register))
        .route("/api/client/metrics", post(metrics))
}

/// Unleash SDKs read `{"message": ...}` on refusals.
pub fn refusal(r: Refusal) -> Response {
    let (status, message) = match r {
        Refusal::Unknown => (StatusCode::UNAUTHORIZED, "a valid client token is required"),
        Refusal::WrongKind => (
            StatusCode::FORBIDDEN,
            "this token cannot be used here: client tokens read /api/client, frontend tokens /api/frontend",
        ),
    };
    json(
        status,
        serde_json::json!({ "error": "unauthorized", "message": message }).to_string(),
    )
}

pub fn json(status: StatusCode, body: impl Into<axum::body::Body>) -> Response {
    let mut res = (status, body.into()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// Before the first load there is nothing trustworthy to serve; SDKs keep their cache on 503.
pub fn not_ready() -> Response {
    let mut res = json(
        StatusCode::SERVICE_UNAVAILABLE,
        r#"{"error":"not-ready","message":"the feed is not loaded yet; retry shortly"}"#,
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    res
}

pub fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

pub fn not_modified(etag: &str) -> Response {
    let mut res = StatusCode::NOT_MODIFIED.into_response();
    if let Ok(v) = HeaderValue::from_str(etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

async fn features(State(feed): State<FeedState>, headers: HeaderMap) -> Response {
    let token = match feed.tokens.authorize(&headers, &[TokenKind::Client]) {
        Ok(t) => t,
        Err(r) => return refusal(r),
    };
    if !feed.snapshots.is_loaded() {
        return not_ready();
    }
    let Some(snap) = feed.snapshots.get(token.environment_id) else {
        return not_ready();
    };
    let spec = headers
        .get("unleash-client-spec")
        .and_then(|v| v.to_str().ok());
    let (body, etag) = snap.compiled.client_features_body(spec);
    if etag_matches(&headers, etag) {
        return not_modified(etag);
    }
    let mut res = json(StatusCode::OK, Bytes::copy_from_slice(body));
    if let Ok(v) = HeaderValue::from_str(etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// Registration and metrics are accepted when they are JSON objects; Python SDKs count anything
/// but 202 as a failure.
async fn register(State(feed): State<FeedState>, headers: HeaderMap, body: Bytes) -> Response {
    accept_report(&feed, &headers, &body)
}

async fn metrics(State(feed): State<FeedState>, headers: HeaderMap, body: Bytes) -> Response {
    accept_report(&feed, &headers, &body)
}

fn accept_report(feed: &FeedState, headers: &HeaderMap, body: &[u8]) -> Response {
    if let Err(r) = feed.tokens.authorize(headers, &[TokenKind::Client]) {
        return refusal(r);
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) if v.is_object() => StatusCode::ACCEPTED.into_response(),
        _ => json(
            StatusCode::BAD_REQUEST,
            r#"{"error":"invalid-body","message":"send a JSON object as Unleash SDKs do"}"#,
        ),
    }
}
