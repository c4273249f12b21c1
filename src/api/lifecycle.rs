//! A flag's life through the API: mark it completed (or undo it), snooze its staleness, give it
//! its own expected lifetime; and the project's stale thresholds.

use super::{ApiError, ApiJson};
use crate::authz::{Action, ProjectAccess};
use crate::catalog::service as catalog;
use crate::catalog::store as catalog_store;
use crate::db::begin_write;
use crate::lifecycle::marks::{self, CompletionDraft, FlagLifecycleDraft, SnoozeDraft};
use crate::lifecycle::stale::Thresholds;
use crate::lifecycle::{assess, store};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::{post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    let flag = "/api/admin/projects/{project}/flags/{key}";
    Router::new()
        .route(&format!("{flag}/complete"), post(complete).delete(reopen))
        .route(&format!("{flag}/snooze"), post(snooze).delete(unsnooze))
        .route(&format!("{flag}/lifecycle"), put(set_flag_lifecycle))
        .route(
            "/api/admin/projects/{project}/lifecycle",
            axum::routing::get(get_thresholds).put(set_thresholds),
        )
}

#[derive(Deserialize)]
struct FlagPath {
    key: String,
}

type Answer = Result<Json<Value>, ApiError>;

/// What a lifecycle mark does, in the caller's transaction.
enum Mark {
    Complete(CompletionDraft),
    Reopen,
    Snooze(SnoozeDraft),
    Unsnooze,
    Lifecycle(FlagLifecycleDraft),
}

/// Applies the mark, assesses the flag again (so the catalog and the feed see it at once), and
/// answers the flag as `GET` does.
async fn mark(app: AppState, access: ProjectAccess, key: &str, m: Mark) -> Answer {
    access.require(Action::EditFlag)?;
    let (actor, project, now) = (access.actor(), &access.project, app.now());
    let mut tx = begin_write(&app.db).await?;
    match m {
        Mark::Complete(d) => marks::complete(&mut tx, actor, project, key, d, now).await?,
        Mark::Reopen => marks::reopen(&mut tx, actor, project, key, now).await?,
        Mark::Snooze(d) => marks::snooze(&mut tx, actor, project, key, d, now).await?,
        Mark::Unsnooze => marks::unsnooze(&mut tx, actor, project, key, now).await?,
        Mark::Lifecycle(d) => {
            marks::set_flag_lifecycle(&mut tx, actor, project, key, d, now).await?
        }
    }
    let flag = catalog_store::flag_by_key(&mut tx, project.id, key)
        .await?
        .ok_or_else(|| catalog::flag_not_found(project, key))?;
    assess::refresh_flag(&mut tx, project, flag.id, key, now).await?;
    let detail = catalog::detail(&mut tx, project, key, now).await?;
    app.writes.commit(tx).await?;
    Ok(Json(json!({ "flag": detail })))
}

async fn complete(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<FlagPath>,
    ApiJson(d): ApiJson<CompletionDraft>,
) -> Answer {
    mark(app, access, &p.key, Mark::Complete(d)).await
}

async fn reopen(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<FlagPath>,
) -> Answer {
    mark(app, access, &p.key, Mark::Reopen).await
}

async fn snooze(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<FlagPath>,
    ApiJson(d): ApiJson<SnoozeDraft>,
) -> Answer {
    mark(app, access, &p.key, Mark::Snooze(d)).await
}

async fn unsnooze(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<FlagPath>,
) -> Answer {
    mark(app, access, &p.key, Mark::Unsnooze).await
}

async fn set_flag_lifecycle(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<FlagPath>,
    ApiJson(d): ApiJson<FlagLifecycleDraft>,
) -> Answer {
    mark(app, access, &p.key, Mark::Lifecycle(d)).await
}

async fn get_thresholds(State(app): State<AppState>, access: ProjectAccess) -> Answer {
    let mut conn = app.db.acquire().await?;
    let t = store::thresholds(&mut conn, access.project.id).await?;
    Ok(Json(json!({ "lifecycle": t })))
}

async fn set_thresholds(
    State(app): State<AppState>,
    access: ProjectAccess,
    ApiJson(t): ApiJson<Thresholds>,
) -> Answer {
    access.require(Action::ManageSettings)?;
    let mut tx = begin_write(&app.db).await?;
    let t = marks::set_thresholds(&mut tx, access.actor(), &access.project, t, app.now()).await?;
    app.writes.commit(tx).await?;
    Ok(Json(json!({ "lifecycle": t })))
}
