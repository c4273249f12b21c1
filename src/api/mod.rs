//! The admin JSON API for automation (`/api/admin/...`), authenticated by admin tokens.
//! Errors answer `{"error": "<code>", "message": "<sentence>"}` with a 4xx and change nothing.

mod audit;
mod changes;
mod code_references;
mod explain;
mod extract;
mod flags;
mod lifecycle;
mod openapi;
mod projects;
mod release_plans;
mod release_templates;
mod reports;
mod signals;
mod targeting;
mod usage;
mod webhooks;

pub use extract::{ApiError, ApiJson, OptionalApiJson};

use crate::state::AppState;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(projects::routes())
        .merge(flags::routes())
        .merge(lifecycle::routes())
        .merge(targeting::routes())
        .merge(audit::routes())
        .merge(changes::routes())
        .merge(code_references::routes())
        .merge(usage::routes())
        .merge(signals::routes())
        .merge(release_templates::routes())
        .merge(release_plans::routes())
        .merge(explain::routes())
        .merge(webhooks::routes())
        .merge(reports::routes())
        .merge(openapi::routes())
        .with_state(state)
}

pub fn error_body(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": code, "message": message });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
