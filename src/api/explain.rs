//! `POST /api/admin/projects/{project}/environments/{env}/explain`: every flag's answer for a
//! context, as the feed gives it, with the rationale (`evaluation::explain`).

use super::{ApiError, ApiJson};
use crate::authz::{Action, ProjectAccess};
use crate::error::AppError;
use crate::evaluation::{frontend_context_from_body, FlagExplanation, RequestDefaults};
use crate::projects::store as projects_store;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/api/admin/projects/{project}/environments/{env}/explain",
        post(explain),
    )
}

#[derive(Deserialize)]
struct EnvPath {
    env: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExplainBody {
    #[serde(default)]
    context: Value,
    flags: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Explained {
    environment: String,
    flags: Vec<FlagExplanation>,
    /// Keys asked for that the environment does not serve.
    unknown_flags: Vec<String>,
}

async fn explain(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<EnvPath>,
    ApiJson(body): ApiJson<ExplainBody>,
) -> Result<Json<Explained>, ApiError> {
    access.require(Action::ViewProject)?;
    let mut conn = app.db.acquire().await?;
    let env = projects_store::environment(&mut conn, access.project.id, &p.env)
        .await?
        .ok_or_else(|| AppError::not_found(format!("there is no environment {:?}", p.env)))?;
    drop(conn);
    let context = match body.context {
        Value::Null => Value::Object(Default::default()),
        Value::Object(map) => Value::Object(map),
        _ => return Err(AppError::invalid("context", "context must be a JSON object").into()),
    };
    let wrapped = serde_json::to_vec(&serde_json::json!({ "context": context }))
        .map_err(|e| AppError::Internal(e.into()))?;
    let ctx = frontend_context_from_body(&wrapped, &RequestDefaults::default())
        .map_err(|e| AppError::invalid("context", e.to_string()))?;
    let snap = app
        .feed
        .snapshots
        .get(env.id)
        .filter(|s| s.project_id == access.project.id)
        .ok_or(AppError::Unavailable)?;
    // Compiling every part of every flag takes a while on large projects: off the runtime.
    let only = body.flags.clone();
    let flags = tokio::task::spawn_blocking(move || snap.compiled.explain(&ctx, only.as_deref()))
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let unknown_flags = body
        .flags
        .iter()
        .flatten()
        .filter(|k| !flags.iter().any(|f| &f.flag == *k))
        .cloned()
        .collect();
    Ok(Json(Explained {
        environment: env.key,
        flags,
        unknown_flags,
    }))
}
