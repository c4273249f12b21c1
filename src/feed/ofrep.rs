//! OpenFeature remote evaluation (OFREP): one flag, or every flag visible to the token.

use super::client::{etag_matches, json, not_modified};
use super::tokens::Refusal;
use super::FeedState;
use crate::auth::tokens::TokenKind;
use crate::evaluation::{
    ofrep_context_from_body, OfrepErrorCode, OfrepItem, OfrepReason, OfrepSuccess,
};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde_json::json as j;

pub fn routes() -> Router<FeedState> {
    Router::new()
        .route("/ofrep/v1/evaluate/flags", post(evaluate_all))
        .route("/ofrep/v1/evaluate/flags/{key}", post(evaluate_one))
}

const KINDS: [TokenKind; 2] = [TokenKind::Client, TokenKind::Frontend];

fn refused(r: Refusal) -> Response {
    let (status, details) = match r {
        Refusal::Unknown => (
            StatusCode::UNAUTHORIZED,
            "a valid client or frontend token is required",
        ),
        Refusal::WrongKind => (StatusCode::FORBIDDEN, "admin tokens cannot evaluate flags"),
    };
    json(status, j!({ "errorDetails": details }).to_string())
}

fn unavailable(key: Option<&str>) -> Response {
    let mut body = j!({"errorCode": "GENERAL", "errorDetails": "the flag state is not loaded yet; retry shortly"});
    if let Some(k) = key {
        body["key"] = j!(k);
    }
    let mut res = json(StatusCode::SERVICE_UNAVAILABLE, body.to_string());
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    res
}

async fn evaluate_one(
    State(feed): State<FeedState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = match feed.tokens.authorize(&headers, &KINDS) {
        Ok(t) => t,
        Err(r) => return refused(r),
    };
    feed.usage.token_used(token.id);
    let ctx = match ofrep_context_from_body(&body) {
        Ok(c) => c,
        Err(e) => {
            let body = j!({"key": key, "errorCode": "PARSE_ERROR", "errorDetails": e.to_string()});
            return json(StatusCode::BAD_REQUEST, body.to_string());
        }
    };
    let Some(snap) = feed.snapshots.get(token.environment_id) else {
        return unavailable(Some(&key));
    };
    let result = snap.compiled.ofrep_single(&key, &ctx);
    if let Ok(s) = &result {
        feed.usage
            .evaluated(token.environment_id, [(s.key.as_str(), is_on(s))]);
    }
    match result {
        Ok(success) => json(
            StatusCode::OK,
            serde_json::to_vec(&success).unwrap_or_default(),
        ),
        Err(err) => {
            let status = match err.error_code {
                OfrepErrorCode::FlagNotFound => StatusCode::NOT_FOUND,
                OfrepErrorCode::General => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::BAD_REQUEST,
            };
            json(
                status,
                serde_json::to_vec(&err.with_key(&key)).unwrap_or_default(),
            )
        }
    }
}

async fn evaluate_all(State(feed): State<FeedState>, headers: HeaderMap, body: Bytes) -> Response {
    let token = match feed.tokens.authorize(&headers, &KINDS) {
        Ok(t) => t,
        Err(r) => return refused(r),
    };
    feed.usage.token_used(token.id);
    let ctx = match ofrep_context_from_body(&body) {
        Ok(c) => c,
        Err(e) => {
            let body = j!({"errorCode": "PARSE_ERROR", "errorDetails": e.to_string()});
            return json(StatusCode::BAD_REQUEST, body.to_string());
        }
    };
    let Some(snap) = feed.snapshots.get(token.environment_id) else {
        return unavailable(None);
    };
    let bulk = snap.compiled.ofrep_bulk(&ctx);
    feed.usage.evaluated(
        token.environment_id,
        bulk.flags.iter().filter_map(|item| match item {
            OfrepItem::Success(s) => Some((s.key.as_str(), is_on(s))),
            OfrepItem::Error(_) => None,
        }),
    );
    if etag_matches(&headers, &bulk.etag) {
        return not_modified(&bulk.etag);
    }
    let mut res = json(StatusCode::OK, bulk.body);
    if let Ok(v) = HeaderValue::from_str(&bulk.etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// Whether an answer counts as "on" for usage: the flag was enabled for the caller.
fn is_on(s: &OfrepSuccess) -> bool {
    !matches!(s.reason, OfrepReason::Disabled | OfrepReason::Default)
}
