//! A flag's release plan in one environment:
//! `/api/admin/projects/{project}/flags/{key}/environments/{env}/release-plan` (GET, POST to
//! start one — 202 with a change request where the environment is protected — and DELETE to
//! stop it), and `.../advance`, `/pause`, `/resume`, `/reviews/{id}` (completing the review of
//! an automatic rollback).

use super::{ApiError, ApiJson};
use crate::authz::{Action, ProjectAccess};
use crate::changes::service::{Applied, Outcome};
use crate::db::begin_write;
use crate::error::AppError;
use crate::http::commands;
use crate::projects::service as projects;
use crate::rollout::{rollback, steps, view, Move, PlanRequest};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    let plan = "/api/admin/projects/{project}/flags/{key}/environments/{env}/release-plan";
    Router::new()
        .route(plan, get(get_plan).post(create_plan).delete(stop_plan))
        .route(&format!("{plan}/advance"), post(advance))
        .route(&format!("{plan}/pause"), post(pause))
        .route(&format!("{plan}/resume"), post(resume))
        .route(&format!("{plan}/reviews/{{id}}"), post(complete_review))
}

#[derive(Deserialize)]
struct PlanPath {
    key: String,
    env: String,
}

#[derive(Deserialize)]
struct ReviewPath {
    key: String,
    env: String,
    id: i64,
}

type Answer = Result<Json<Value>, ApiError>;

async fn current(app: &AppState, access: &ProjectAccess, p: &PlanPath) -> Answer {
    let mut conn = app.db.acquire().await?;
    let env = projects::environment(&mut conn, &access.project, &p.env).await?;
    let plan = view::latest(&mut conn, &access.project, &env, &p.key, app.now())
        .await?
        .ok_or_else(|| {
            AppError::not_found(format!("{} has no release plan in {}", p.key, p.env))
        })?;
    Ok(Json(json!(plan)))
}

async fn get_plan(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<PlanPath>,
) -> Answer {
    access.require(Action::ViewProject)?;
    current(&app, &access, &p).await
}

async fn create_plan(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<PlanPath>,
    ApiJson(req): ApiJson<PlanRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut tx = begin_write(&app.db).await?;
    let env = projects::environment(&mut tx, &access.project, &p.env).await?;
    let outcome =
        commands::start_release_plan(&mut tx, &access, &env, &p.key, req, app.now()).await;
    let outcome = app.writes.commit_if_ok(tx, outcome).await?;
    match outcome {
        Outcome::Staged(cr) => Ok(super::changes::staged(cr)),
        Outcome::Applied(Applied::ReleasePlan(_)) | Outcome::Applied(_) => {
            let Json(plan) = current(&app, &access, &p).await?;
            Ok((StatusCode::CREATED, Json(plan)))
        }
    }
}

async fn step(app: AppState, access: ProjectAccess, p: PlanPath, m: Move) -> Answer {
    let mut tx = begin_write(&app.db).await?;
    let env = projects::environment(&mut tx, &access.project, &p.env).await?;
    access.require(Action::StepReleasePlan)?;
    let (actor, project) = (access.actor(), &access.project);
    let moved = steps::step(&mut tx, actor, project, &env, &p.key, m, app.now()).await;
    app.writes.commit_if_ok(tx, moved).await?;
    current(&app, &access, &p).await
}

async fn advance(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<PlanPath>,
) -> Answer {
    step(app, access, p, Move::Advance).await
}

async fn pause(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<PlanPath>,
) -> Answer {
    step(app, access, p, Move::Pause).await
}

async fn resume(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<PlanPath>,
) -> Answer {
    step(app, access, p, Move::Resume).await
}

async fn stop_plan(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<PlanPath>,
) -> Result<StatusCode, ApiError> {
    let mut tx = begin_write(&app.db).await?;
    let env = projects::environment(&mut tx, &access.project, &p.env).await?;
    access.require(Action::StepReleasePlan)?;
    let (actor, project) = (access.actor(), &access.project);
    let moved = steps::step(
        &mut tx,
        actor,
        project,
        &env,
        &p.key,
        Move::Cancel,
        app.now(),
    )
    .await;
    app.writes.commit_if_ok(tx, moved).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct ReviewBody {
    #[serde(default)]
    note: String,
}

async fn complete_review(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<ReviewPath>,
    ApiJson(body): ApiJson<ReviewBody>,
) -> Answer {
    let mut tx = begin_write(&app.db).await?;
    let env = projects::environment(&mut tx, &access.project, &p.env).await?;
    let done = match steps::latest(&mut tx, &access.project, &env, &p.key).await {
        Ok(plan) => match access.require(Action::ReviewRollback) {
            Ok(()) => {
                let (who, project) = (&access.identity, &access.project);
                let now = app.now();
                rollback::complete_review(&mut tx, who, project, &plan, p.id, &body.note, now).await
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    app.writes.commit_if_ok(tx, done).await?;
    let path = PlanPath {
        key: p.key,
        env: p.env,
    };
    current(&app, &access, &path).await
}
