//! Rollout safety in the web app: the release templates catalog, a flag's release plan in one
//! environment, and its timeline chart; a plan in brief for the flag page.

pub(super) mod brief;
mod form;
mod plan;
mod templates;
mod timeline;

use crate::state::AppState;
use axum::Router;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .merge(templates::routes())
        .merge(plan::routes())
}
