//! Unleash client API: `GET /api/client/features`, `POST /api/client/register`, `POST /api/client/metrics`.

use super::snapshot::EnvSnapshot;
use super::tokens::Refusal;
use super::usage::ReportBody;
use super::FeedState;
use crate::auth::tokens::TokenKind;
use crate::metrics::sdk::{Api, Outcome, Post};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
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

/// The feed's most frequent request, an SDK polling `/api/client/features` with the ETag it
/// already holds, answered before routing and the per-route layers: 304 with the headers the
/// routed answer carries (CORS included; the envelope adds the rest). Anything else (no
/// `If-None-Match`, another ETag, a query, a bad token) gets None and takes the normal route.
pub fn unchanged(feed: &FeedState, req: &axum::extract::Request) -> Option<Response> {
    if req.method() != axum::http::Method::GET
        || req.uri().path() != "/api/client/features"
        || req.uri().query().is_some()
    {
        return None;
    }
    let headers = req.headers();
    headers.get(header::IF_NONE_MATCH)?;
    let token = feed.tokens.authorize(headers, &[TokenKind::Client]).ok()?;
    let snap = feed.snapshots.get(token.environment_id)?;
    let spec = headers
        .get("unleash-client-spec")
        .and_then(|v| v.to_str().ok());
    let (_, etag) = snap.compiled.client_features_body(spec);
    if !etag_matches(headers, etag) {
        return None;
    }
    feed.usage.token_used(token.id);
    let mut res = not_modified(etag);
    super::cross_origin_simple(res.headers_mut());
    Some(res)
}

pub fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

pub fn not_modified(etag: &str) -> Response {
    let mut res = StatusCode::NOT_MODIFIED.into_response();
    // Room for the CORS, security and request-id headers still to come, in one allocation.
    res.headers_mut().reserve(16);
    if let Ok(v) = HeaderValue::from_str(etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// The optional narrowing of `/api/client/features` (each may repeat; all intersect the token).
#[derive(Default)]
struct Narrowing {
    projects: Vec<String>,
    prefixes: Vec<String>,
    tags: Vec<String>,
}

impl Narrowing {
    fn parse(query: Option<&str>) -> Narrowing {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query.unwrap_or("")).unwrap_or_default();
        let mut n = Narrowing::default();
        for (k, v) in pairs {
            match k.as_str() {
                "project" => n.projects.push(v),
                "namePrefix" => n.prefixes.push(v),
                "tag" => n.tags.push(v),
                _ => {}
            }
        }
        n
    }

    fn is_empty(&self) -> bool {
        self.projects.is_empty() && self.prefixes.is_empty() && self.tags.is_empty()
    }

    fn keeps(&self, snap: &EnvSnapshot, name: &str) -> bool {
        let project_ok = self.projects.is_empty()
            || self
                .projects
                .iter()
                .any(|p| p == "*" || *p == snap.project_key);
        let prefix_ok =
            self.prefixes.is_empty() || self.prefixes.iter().any(|p| name.starts_with(p.as_str()));
        // Unleash tags are `type:value`; ours are free words, matched whole or by value.
        let tag_ok = self.tags.is_empty()
            || snap.tags.get(name).is_some_and(|tags| {
                self.tags.iter().any(|q| {
                    let value = q.split_once(':').map(|(_, v)| v).unwrap_or(q);
                    tags.iter().any(|t| t == q || t == value)
                })
            });
        project_ok && prefix_ok && tag_ok
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")))
}

async fn features(
    State(feed): State<FeedState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let token = match feed.tokens.authorize(&headers, &[TokenKind::Client]) {
        Ok(t) => t,
        Err(r) => return refusal(r),
    };
    feed.usage.token_used(token.id);
    let Some(snap) = feed.snapshots.get(token.environment_id) else {
        return not_ready();
    };
    let spec = headers
        .get("unleash-client-spec")
        .and_then(|v| v.to_str().ok());
    let narrowing = Narrowing::parse(query.as_deref());
    if !narrowing.is_empty() {
        let (body, etag) = snap
            .compiled
            .client_features_narrowed(spec, |name| narrowing.keeps(&snap, name));
        if etag_matches(&headers, &etag) {
            return not_modified(&etag);
        }
        return with_etag(json(StatusCode::OK, body), &etag);
    }
    let (body, etag) = snap.compiled.client_features_body(spec);
    if etag_matches(&headers, etag) {
        return not_modified(etag);
    }
    let mut res = if accepts_gzip(&headers) {
        let gz = snap.compiled.client_features_gzip(spec);
        let mut res = json(StatusCode::OK, gz.clone());
        res.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        res
    } else {
        json(StatusCode::OK, body.clone())
    };
    res.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    with_etag(res, etag)
}

pub fn with_etag(mut res: Response, etag: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// Registration and metrics are recorded when they are JSON objects; Python SDKs count anything
/// but 202 as a failure.
async fn register(State(feed): State<FeedState>, headers: HeaderMap, body: Bytes) -> Response {
    let res = accept_report(
        &feed,
        &headers,
        &body,
        &[TokenKind::Client],
        StatusCode::ACCEPTED,
    );
    counted(Api::Client, Post::Registration, res)
}

async fn metrics(State(feed): State<FeedState>, headers: HeaderMap, body: Bytes) -> Response {
    metrics_answer(&feed, &headers, &body)
}

/// Whether `req` is an SDK's metrics post, which [`metrics_posted`] answers once its body is in.
/// Server SDKs post every few seconds each, a fleet thousands of times a second: the transport
/// answers them before routing and the per-route layers, as it does unchanged polls.
pub fn is_metrics_post(req: &axum::extract::Request) -> bool {
    req.method() == axum::http::Method::POST
        && req.uri().path() == "/api/client/metrics"
        && req.uri().query().is_none()
}

/// The answer to a server SDK's metrics report, with the headers the routed answer carries
/// (CORS included; the envelope adds the rest).
pub fn metrics_posted(feed: &FeedState, headers: &HeaderMap, body: &[u8]) -> Response {
    let mut res = metrics_answer(feed, headers, body);
    super::cross_origin_simple(res.headers_mut());
    res
}

fn metrics_answer(feed: &FeedState, headers: &HeaderMap, body: &[u8]) -> Response {
    let res = accept_report(
        feed,
        headers,
        body,
        &[TokenKind::Client],
        StatusCode::ACCEPTED,
    );
    counted(Api::Client, Post::Metrics, res)
}

/// Counts a report's answer for `/metrics`: accepted, or why not.
pub fn counted(api: Api, post: Post, res: Response) -> Response {
    crate::metrics::sdk::posted(api, post, Outcome::of_status(res.status().as_u16()));
    res
}

pub fn accept_report(
    feed: &FeedState,
    headers: &HeaderMap,
    body: &[u8],
    kinds: &[TokenKind],
    ok: StatusCode,
) -> Response {
    let token = match feed.tokens.authorize(headers, kinds) {
        Ok(t) => t,
        Err(r) => return refusal(r),
    };
    feed.usage.token_used(token.id);
    if let Err(wait) = feed.usage.admit_post(token.id) {
        return too_many_posts(wait);
    }
    let body = match ReportBody::read(body) {
        Ok(body) => body,
        Err(e) => return invalid_report(format!("the report could not be read: {e}")),
    };
    // The snapshot says which flags exist; before it loads nothing can be checked.
    let Some(snap) = feed.snapshots.get(token.environment_id) else {
        return not_ready();
    };
    let known = |flag: &str| snap.compiled.value_type(flag).is_some();
    // Server SDKs only: frontend tokens are public, so they may not write signals.
    if kinds.contains(&TokenKind::Client) && !body.impact_metrics.0.is_empty() {
        let app = body.app_name.as_deref().unwrap_or("");
        feed.signals
            .impact_metrics(token.environment_id, app, &body.impact_metrics);
    }
    match feed.usage.accept(token.environment_id, body, known) {
        Ok(()) => ok.into_response(),
        Err(why) => invalid_report(why),
    }
}

fn invalid_report(message: String) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        serde_json::json!({"error": "invalid-body", "message": message}).to_string(),
    )
}

fn too_many_posts(wait: std::time::Duration) -> Response {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    let message = format!("too many metric posts for this token; retry in {secs} s");
    let mut res = json(
        StatusCode::TOO_MANY_REQUESTS,
        serde_json::json!({"error": "rate-limited", "message": message}).to_string(),
    );
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}
