//! Release templates: `/api/admin/release-templates` (instance-wide, admins edit them) and
//! `/api/admin/projects/{project}/release-templates` (the project's own, owners edit them; the
//! list also shows the instance-wide ones it may apply). Also the project's release setting.

use super::{ApiError, ApiJson};
use crate::authz::{Action, Identity, ProjectAccess};
use crate::db::begin_write;
use crate::error::{AppError, AppResult};
use crate::http::extract::AdminToken;
use crate::rollout::templates::{self, Owner};
use crate::rollout::TemplateDraft;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    let project = "/api/admin/projects/{project}";
    Router::new()
        .route(
            "/api/admin/release-templates",
            get(list_instance).post(create_instance),
        )
        .route(
            "/api/admin/release-templates/{key}",
            get(get_instance)
                .put(update_instance)
                .delete(delete_instance),
        )
        .route(
            &format!("{project}/release-templates"),
            get(list_project).post(create_project),
        )
        .route(
            &format!("{project}/release-templates/{{key}}"),
            get(get_project).put(update_project).delete(delete_project),
        )
        .route(
            &format!("{project}/release-settings"),
            get(get_settings).put(put_settings),
        )
}

#[derive(Deserialize)]
struct KeyPath {
    key: String,
}

type Answer = Result<Json<Value>, ApiError>;

async fn list_instance(State(app): State<AppState>, AdminToken(_): AdminToken) -> Answer {
    let mut conn = app.db.acquire().await?;
    let list = templates::own(&mut conn, None).await?;
    Ok(Json(json!({ "templates": list })))
}

async fn get_instance(
    State(app): State<AppState>,
    AdminToken(_): AdminToken,
    Path(p): Path<KeyPath>,
) -> Answer {
    let mut conn = app.db.acquire().await?;
    let t = templates::get(&mut conn, None, &p.key).await?;
    Ok(Json(json!({ "template": t })))
}

async fn create_instance(
    State(app): State<AppState>,
    AdminToken(id): AdminToken,
    ApiJson(draft): ApiJson<TemplateDraft>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut tx = begin_write(&app.db).await?;
    let owner = Owner::Instance(&id.actor);
    instance_wide(&id, &owner)?;
    let t = templates::create(&mut tx, &owner, draft, app.now()).await;
    let t = app.writes.commit_if_ok(tx, t).await?;
    Ok((StatusCode::CREATED, Json(json!({ "template": t }))))
}

async fn update_instance(
    State(app): State<AppState>,
    AdminToken(id): AdminToken,
    Path(p): Path<KeyPath>,
    ApiJson(draft): ApiJson<TemplateDraft>,
) -> Answer {
    let mut tx = begin_write(&app.db).await?;
    let owner = Owner::Instance(&id.actor);
    instance_wide(&id, &owner)?;
    let t = templates::update(&mut tx, &owner, &p.key, draft, app.now()).await;
    let t = app.writes.commit_if_ok(tx, t).await?;
    Ok(Json(json!({ "template": t })))
}

async fn delete_instance(
    State(app): State<AppState>,
    AdminToken(id): AdminToken,
    Path(p): Path<KeyPath>,
) -> Result<StatusCode, ApiError> {
    let mut tx = begin_write(&app.db).await?;
    let owner = Owner::Instance(&id.actor);
    instance_wide(&id, &owner)?;
    let done = templates::delete(&mut tx, &owner, &p.key, app.now()).await;
    app.writes.commit_if_ok(tx, done).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_project(State(app): State<AppState>, access: ProjectAccess) -> Answer {
    access.require(Action::ViewProject)?;
    let mut conn = app.db.acquire().await?;
    let list = templates::offered(&mut conn, &access.project).await?;
    Ok(Json(json!({ "templates": list })))
}

async fn get_project(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<KeyPath>,
) -> Answer {
    access.require(Action::ViewProject)?;
    let mut conn = app.db.acquire().await?;
    let t = templates::for_project(&mut conn, &access.project, &p.key).await?;
    Ok(Json(json!({ "template": t })))
}

async fn create_project(
    State(app): State<AppState>,
    access: ProjectAccess,
    ApiJson(draft): ApiJson<TemplateDraft>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut tx = begin_write(&app.db).await?;
    let owner = Owner::Project(&access.project, access.actor());
    access.require(owner.action())?;
    let t = templates::create(&mut tx, &owner, draft, app.now()).await;
    let t = app.writes.commit_if_ok(tx, t).await?;
    Ok((StatusCode::CREATED, Json(json!({ "template": t }))))
}

async fn update_project(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<KeyPath>,
    ApiJson(draft): ApiJson<TemplateDraft>,
) -> Answer {
    let mut tx = begin_write(&app.db).await?;
    let owner = Owner::Project(&access.project, access.actor());
    access.require(owner.action())?;
    let t = templates::update(&mut tx, &owner, &p.key, draft, app.now()).await;
    let t = app.writes.commit_if_ok(tx, t).await?;
    Ok(Json(json!({ "template": t })))
}

async fn delete_project(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<KeyPath>,
) -> Result<StatusCode, ApiError> {
    let mut tx = begin_write(&app.db).await?;
    let owner = Owner::Project(&access.project, access.actor());
    access.require(owner.action())?;
    let done = templates::delete(&mut tx, &owner, &p.key, app.now()).await;
    app.writes.commit_if_ok(tx, done).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_settings(State(app): State<AppState>, access: ProjectAccess) -> Answer {
    access.require(Action::ViewProject)?;
    let mut conn = app.db.acquire().await?;
    let on = templates::require_gradual(&mut conn, &access.project).await?;
    Ok(Json(json!({ "requireGradualInProtected": on })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Settings {
    require_gradual_in_protected: bool,
}

async fn put_settings(
    State(app): State<AppState>,
    access: ProjectAccess,
    ApiJson(s): ApiJson<Settings>,
) -> Answer {
    let mut tx = begin_write(&app.db).await?;
    let on = s.require_gradual_in_protected;
    access.require(Action::ManageSettings)?;
    let (actor, project) = (access.actor(), &access.project);
    let done = templates::set_require_gradual(&mut tx, actor, project, on, app.now()).await;
    app.writes.commit_if_ok(tx, done).await?;
    Ok(Json(json!({ "requireGradualInProtected": on })))
}

/// The instance-wide templates are admins' (outside any project, only the admin flag counts).
fn instance_wide(id: &Identity, owner: &Owner<'_>) -> AppResult<()> {
    let principal = crate::authz::reach::principal(id, None);
    crate::authz::allows(principal, owner.action()).map_err(|d| AppError::forbidden(d.0))
}
