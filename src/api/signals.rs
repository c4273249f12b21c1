//! Health signals: `POST /api/admin/projects/{project}/signals` takes a batch of samples from a
//! service and answers what it accepted and why it refused the rest; `GET` reads the series
//! back (contract, "Rollout safety").

use super::{ApiError, ApiJson};
use crate::authz::{Action, ProjectAccess};
use crate::clock::stamp;
use crate::db::begin_write;
use crate::error::AppError;
use crate::projects::store as projects_store;
use crate::signals::{self, BatchOutcome, Series, SeriesQuery};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/api/admin/projects/{project}/signals",
        get(read_signals).post(post_signals),
    )
}

async fn post_signals(
    State(app): State<AppState>,
    access: ProjectAccess,
    ApiJson(body): ApiJson<Box<RawValue>>,
) -> Result<Json<BatchOutcome>, ApiError> {
    access.require(Action::PostSignals)?;
    let now = std::time::Instant::now();
    if let Err(wait) = app.feed.signals.admit_post(access.project.id, now) {
        let retry_after = wait.as_secs().max(1);
        return Err(AppError::TooManyRequests { retry_after }.into());
    }
    let mut tx = begin_write(&app.db).await?;
    let outcome = signals::post_batch(&mut tx, &access.project, body.get(), app.now()).await?;
    // Signals change nothing the feed serves: the post need not wait for a rebuild.
    #[allow(clippy::disallowed_methods)]
    tx.commit().await?;
    Ok(Json(outcome))
}

#[derive(Deserialize)]
struct ReadQuery {
    environment: Option<String>,
    name: Option<String>,
    /// RFC 3339; an hour ago when left out, at most the retention period back.
    since: Option<String>,
    /// With `name=feature_evaluations` and an environment: the feed's counts of this flag.
    flag: Option<String>,
}

async fn read_signals(
    State(app): State<AppState>,
    access: ProjectAccess,
    Query(q): Query<ReadQuery>,
) -> Result<Json<Value>, ApiError> {
    access.require(Action::ViewProject)?;
    let now = app.now();
    let since = since(q.since.as_deref(), now)?;
    let mut conn = app.db.acquire().await?;
    let env = match q.environment.as_deref().filter(|e| !e.is_empty()) {
        Some(key) => Some(
            projects_store::environment(&mut conn, access.project.id, key)
                .await?
                .ok_or_else(|| {
                    AppError::invalid("environment", format!("unknown environment {key:?}"))
                })?,
        ),
        None => None,
    };
    let name = q.name.as_deref().filter(|n| !n.is_empty());
    let series: Vec<Series> = match (name, &env, q.flag.as_deref()) {
        (Some(signals::EVALUATIONS), Some(env), Some(flag)) => {
            signals::evaluations(&mut conn, env.id, &env.key, flag, since).await?
        }
        _ => {
            let query = SeriesQuery {
                environment_id: env.as_ref().map(|e| e.id),
                name,
                since,
            };
            signals::series(&mut conn, access.project.id, &query).await?
        }
    };
    Ok(Json(json!({ "since": stamp(since), "series": series })))
}

fn since(raw: Option<&str>, now: DateTime<Utc>) -> Result<DateTime<Utc>, AppError> {
    let Some(raw) = raw.filter(|s| !s.is_empty()) else {
        return Ok(now - TimeDelta::hours(1));
    };
    let at = DateTime::parse_from_rfc3339(raw)
        .map_err(|_| AppError::invalid("since", format!("{raw:?} is not an RFC 3339 time")))?;
    Ok(at.with_timezone(&Utc).max(now - signals::RETENTION))
}
