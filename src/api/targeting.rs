//! Targeting: strategies and flag-level variants per environment, dependencies per flag, and the
//! project's segments. Bodies take Unleash's shapes, as a bare list or wrapped in an object.

use super::{ApiError, ApiJson};
use crate::authz::{Action, ProjectAccess};
use crate::changes::service::{self as changes, Applied, Change, Outcome};
use crate::changes::Proposal;
use crate::db::begin_write;
use crate::error::AppError;
use crate::http::commands;
use crate::projects::service as projects;
use crate::state::AppState;
use crate::targeting::service::{self, DependencyDraft, SegmentDraft};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    let flag = "/api/admin/projects/{project}/flags/{key}";
    let segments = "/api/admin/projects/{project}/segments";
    Router::new()
        .route(
            &format!("{flag}/environments/{{env}}/strategies"),
            get(get_targeting).put(put_strategies),
        )
        .route(
            &format!("{flag}/environments/{{env}}/variants"),
            get(get_targeting).put(put_variants),
        )
        .route(
            &format!("{flag}/environments/{{env}}/copy-from/{{source}}"),
            axum::routing::post(copy_targeting),
        )
        .route(
            &format!("{flag}/dependencies"),
            get(get_dependencies).put(put_dependencies),
        )
        .route(segments, get(list_segments).post(create_segment))
        .route(
            &format!("{segments}/{{id}}"),
            get(get_segment).put(update_segment).delete(delete_segment),
        )
}

#[derive(Deserialize)]
struct FlagPath {
    key: String,
}

#[derive(Deserialize)]
struct FlagEnvPath {
    key: String,
    env: String,
}

#[derive(Deserialize)]
struct SegmentPath {
    id: i64,
}

/// `[...]` or `{"<wrapper>": [...]}`.
fn list_body<T: DeserializeOwned>(body: Value, wrapper: &str) -> Result<Vec<T>, ApiError> {
    let list = match body {
        Value::Object(mut m) if m.len() == 1 && m.contains_key(wrapper) => {
            m.remove(wrapper).unwrap_or_default()
        }
        other => other,
    };
    if !list.is_array() {
        return Err(AppError::bad_request(
            "invalid-body",
            format!("send a JSON list of {wrapper}, or {{\"{wrapper}\": [...]}}"),
        )
        .into());
    }
    serde_json::from_value(list).map_err(|e| {
        AppError::bad_request(
            "invalid-body",
            format!("the {wrapper} have the wrong shape: {e}"),
        )
        .into()
    })
}

async fn get_targeting(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<FlagEnvPath>,
) -> Result<Json<Value>, ApiError> {
    let mut conn = app.db.acquire().await?;
    let env = projects::environment(&mut conn, &access.project, &p.env).await?;
    let t = service::targeting(&mut conn, &access.project, &p.key, &env).await?;
    Ok(Json(json!({ "targeting": t })))
}

async fn put_strategies(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<FlagEnvPath>,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let strategies = list_body(body, "strategies")?;
    let proposal = Proposal::Strategies { strategies };
    change_targeting(app, access, p, proposal).await
}

async fn put_variants(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<FlagEnvPath>,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let variants = list_body(body, "variants")?;
    let proposal = Proposal::Variants { variants };
    change_targeting(app, access, p, proposal).await
}

#[derive(Deserialize)]
struct CopyPath {
    key: String,
    env: String,
    source: String,
}

/// The source environment's strategies and variants replace the target's: at once where the
/// target is unprotected (200 with its targeting), else staged in a change request (202).
async fn copy_targeting(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<CopyPath>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut tx = begin_write(&app.db).await?;
    let from = projects::environment(&mut tx, &access.project, &p.source).await?;
    let to = projects::environment(&mut tx, &access.project, &p.env).await?;
    let copied = commands::copy_targeting(&mut tx, &access, &p.key, &from, &to, app.now()).await?;
    app.writes.commit(tx).await?;
    Ok(match copied {
        changes::Copied::Staged(cr) => super::changes::staged(cr),
        changes::Copied::Applied(t) => (StatusCode::OK, Json(json!({ "targeting": t }))),
    })
}

/// Applies in an unprotected environment; in a protected one, stages into a change request.
async fn change_targeting(
    app: AppState,
    access: ProjectAccess,
    p: FlagEnvPath,
    proposal: Proposal,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut tx = begin_write(&app.db).await?;
    let env = projects::environment(&mut tx, &access.project, &p.env).await?;
    let change = Change {
        flag_key: &p.key,
        env: Some(&env),
        proposal,
    };
    let outcome = commands::propose(&mut tx, &access, change, app.now()).await?;
    app.writes.commit(tx).await?;
    Ok(match outcome {
        Outcome::Staged(cr) => super::changes::staged(cr),
        Outcome::Applied(Applied::Targeting(t)) => {
            (StatusCode::OK, Json(json!({ "targeting": t })))
        }
        Outcome::Applied(_) => (StatusCode::OK, Json(json!({}))),
    })
}

async fn get_dependencies(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<FlagPath>,
) -> Result<Json<Value>, ApiError> {
    let mut conn = app.db.acquire().await?;
    let deps = service::dependencies(&mut conn, &access.project, &p.key).await?;
    Ok(Json(json!({ "dependencies": deps })))
}

/// Dependencies apply in every environment: where a protected one would serve something else,
/// they go into a change request there (202); otherwise they apply at once.
async fn put_dependencies(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<FlagPath>,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let dependencies: Vec<DependencyDraft> = list_body(body, "dependencies")?;
    let mut tx = begin_write(&app.db).await?;
    let change = Change {
        flag_key: &p.key,
        env: None,
        proposal: Proposal::Dependencies { dependencies },
    };
    let outcome = commands::propose(&mut tx, &access, change, app.now()).await?;
    app.writes.commit(tx).await?;
    Ok(match outcome {
        Outcome::Staged(cr) => super::changes::staged(cr),
        Outcome::Applied(Applied::Dependencies(d)) => (StatusCode::OK, Json(json!(d))),
        Outcome::Applied(_) => (StatusCode::OK, Json(json!({}))),
    })
}

async fn list_segments(
    State(app): State<AppState>,
    access: ProjectAccess,
) -> Result<Json<Value>, ApiError> {
    let mut conn = app.db.acquire().await?;
    let segments = service::segments(&mut conn, &access.project).await?;
    Ok(Json(json!({ "segments": segments })))
}

async fn get_segment(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<SegmentPath>,
) -> Result<Json<Value>, ApiError> {
    let mut conn = app.db.acquire().await?;
    let segment = service::segment(&mut conn, &access.project, p.id).await?;
    Ok(Json(json!({ "segment": segment })))
}

async fn create_segment(
    State(app): State<AppState>,
    access: ProjectAccess,
    ApiJson(body): ApiJson<SegmentDraft>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    access.require(Action::EditFlag)?;
    let mut tx = begin_write(&app.db).await?;
    let (actor, project, now) = (access.actor(), &access.project, app.now());
    let segment = service::create_segment(&mut tx, actor, project, body, now).await?;
    app.writes.commit(tx).await?;
    Ok((StatusCode::CREATED, Json(json!({ "segment": segment }))))
}

/// A segment that a protected environment uses changes that environment's targeting: the
/// change goes into a change request there.
async fn update_segment(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<SegmentPath>,
    ApiJson(body): ApiJson<SegmentDraft>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut tx = begin_write(&app.db).await?;
    let change = Change {
        flag_key: "",
        env: None,
        proposal: Proposal::Segment {
            id: p.id,
            segment: body,
        },
    };
    let outcome = commands::propose(&mut tx, &access, change, app.now()).await?;
    app.writes.commit(tx).await?;
    Ok(match outcome {
        Outcome::Staged(cr) => super::changes::staged(cr),
        Outcome::Applied(Applied::Segment(s)) => (StatusCode::OK, Json(json!({ "segment": s }))),
        Outcome::Applied(_) => (StatusCode::OK, Json(json!({}))),
    })
}

async fn delete_segment(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<SegmentPath>,
) -> Result<StatusCode, ApiError> {
    // Deleting is refused while any strategy uses the segment, so it never changes targeting.
    access.require(Action::EditFlag)?;
    let mut tx = begin_write(&app.db).await?;
    let (actor, project, now) = (access.actor(), &access.project, app.now());
    service::delete_segment(&mut tx, actor, project, p.id, now).await?;
    app.writes.commit(tx).await?;
    Ok(StatusCode::NO_CONTENT)
}
