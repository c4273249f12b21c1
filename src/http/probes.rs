//! Liveness, readiness and Prometheus metrics (`scrape`).

use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(super::scrape::metrics))
        .with_state(state)
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
            "the database does not answer: writes are refused, SDKs are served the flag state \
             loaded before",
        )
            .into_response(),
    }
}
