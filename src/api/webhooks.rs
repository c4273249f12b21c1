//! A project's webhooks and their deliveries (owners).

use super::{ApiError, ApiJson};
use crate::authz::{Action, ProjectAccess};
use crate::db::begin_write;
use crate::notify::{self, WebhookDraft};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/admin/projects/{project}/webhooks",
            get(list_webhooks).post(create_webhook),
        )
        .route(
            "/api/admin/projects/{project}/webhooks/{id}",
            get(get_webhook).delete(delete_webhook),
        )
        .route(
            "/api/admin/projects/{project}/webhooks/{id}/deliveries",
            get(list_deliveries),
        )
}

async fn list_webhooks(
    State(app): State<AppState>,
    access: ProjectAccess,
) -> Result<Json<Value>, ApiError> {
    access.require(Action::ManageSettings)?;
    let mut conn = app.db.acquire().await?;
    let hooks = notify::list(&mut conn, &access.project).await?;
    Ok(Json(json!({ "webhooks": hooks })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewWebhook {
    url: String,
    #[serde(default = "generic")]
    format: String,
    #[serde(default)]
    events: Vec<String>,
}

fn generic() -> String {
    "generic".to_string()
}

async fn create_webhook(
    State(app): State<AppState>,
    access: ProjectAccess,
    ApiJson(body): ApiJson<NewWebhook>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    access.require(Action::ManageSettings)?;
    let target = notify::target::vet(&body.url, &app.settings.webhook_allow).await?;
    let draft = WebhookDraft {
        target: &target,
        format: &body.format,
        events: &body.events,
    };
    let mut tx = begin_write(&app.db).await?;
    let made = notify::create(&mut tx, access.actor(), &access.project, &draft, app.now()).await?;
    app.writes.commit(tx).await?;
    // The secret is in this answer only: the receiver needs it to check signatures.
    let body = json!({ "webhook": made.webhook, "secret": made.secret });
    Ok((StatusCode::CREATED, Json(body)))
}

async fn get_webhook(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path((_, id)): Path<(String, i64)>,
) -> Result<Json<Value>, ApiError> {
    access.require(Action::ManageSettings)?;
    let mut conn = app.db.acquire().await?;
    let hook = notify::get(&mut conn, &access.project, id).await?;
    Ok(Json(json!({ "webhook": hook })))
}

async fn delete_webhook(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path((_, id)): Path<(String, i64)>,
) -> Result<Json<Value>, ApiError> {
    access.require(Action::ManageSettings)?;
    let mut tx = begin_write(&app.db).await?;
    let hook = notify::delete(&mut tx, access.actor(), &access.project, id, app.now()).await?;
    app.writes.commit(tx).await?;
    Ok(Json(json!({ "webhook": hook })))
}

async fn list_deliveries(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path((_, id)): Path<(String, i64)>,
) -> Result<Json<Value>, ApiError> {
    access.require(Action::ManageSettings)?;
    let mut conn = app.db.acquire().await?;
    let deliveries = notify::deliveries(&mut conn, &access.project, id).await?;
    Ok(Json(json!({ "deliveries": deliveries })))
}
