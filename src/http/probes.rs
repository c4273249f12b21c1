//! Liveness, readiness and Prometheus metrics.

use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::atomic::{AtomicU64, Ordering};

static REQUESTS: [AtomicU64; 5] = [
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
];

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Counts one answered request by status class.
pub fn count(status: StatusCode) {
    let class = (status.as_u16() / 100).clamp(1, 5) as usize - 1;
    REQUESTS[class].fetch_add(1, Ordering::Relaxed);
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(app): State<AppState>) -> Response {
    let ping =
        tokio::time::timeout(std::time::Duration::from_secs(2), crate::db::ping(&app.db)).await;
    if !app.feed.snapshots.is_loaded() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the flag state is not loaded yet",
        )
            .into_response();
    }
    match ping {
        Ok(Ok(_)) => (StatusCode::OK, "ready").into_response(),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the database does not answer",
        )
            .into_response(),
    }
}

/// The audit head for `/metrics`, or None when the database does not answer in time (a
/// scrape never waits on a lock).
async fn audit_head(app: &AppState) -> Option<crate::audit::Head> {
    let read = async {
        let mut conn = app.db.acquire().await?;
        crate::audit::store::head(&mut conn).await
    };
    tokio::time::timeout(std::time::Duration::from_secs(1), read)
        .await
        .ok()?
        .ok()
}

async fn metrics(State(app): State<AppState>) -> Response {
    let mut out = String::from(
        "# HELP switchyard_http_responses_total HTTP responses by status class.\n\
         # TYPE switchyard_http_responses_total counter\n",
    );
    for (i, c) in REQUESTS.iter().enumerate() {
        out.push_str(&format!(
            "switchyard_http_responses_total{{class=\"{}xx\"}} {}\n",
            i + 1,
            c.load(Ordering::Relaxed)
        ));
    }
    if let Some(head) = audit_head(&app).await {
        // Scrapers keep history: a head that later disappears from the log shows tampering.
        out.push_str(&format!(
            "# HELP switchyard_audit_head_seq Sequence number of the newest audit entry.\n\
             # TYPE switchyard_audit_head_seq gauge\n\
             switchyard_audit_head_seq {}\n\
             # HELP switchyard_audit_head_info The newest audit entry's hash, as a label.\n\
             # TYPE switchyard_audit_head_info gauge\n\
             switchyard_audit_head_info{{hash=\"{}\"}} 1\n",
            head.seq, head.hash
        ));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
