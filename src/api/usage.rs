//! `GET /api/admin/projects/{project}/flags/{key}/usage`: the numbers of the flag page's Usage
//! tab (per environment and day over the last 14 days, variants, connected applications).

use super::ApiError;
use crate::authz::{Action, ProjectAccess};
use crate::state::AppState;
use crate::usage::{self, FlagUsage};
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/api/admin/projects/{project}/flags/{key}/usage",
        get(flag_usage),
    )
}

#[derive(Deserialize)]
struct FlagPath {
    key: String,
}

async fn flag_usage(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<FlagPath>,
) -> Result<Json<FlagUsage>, ApiError> {
    access.require(Action::ViewProject)?;
    let mut conn = app.db.acquire().await?;
    let found = usage::flag_usage(&mut conn, &access.project, &p.key, app.now()).await?;
    Ok(Json(found))
}
