//! Projects, their environments, members and tokens.

use super::{ApiError, ApiJson};
use crate::auth::{token_store, tokens::TokenKind};
use crate::authz::{Action, ProjectAccess, Reach, Role};
use crate::db::begin_write;
use crate::error::AppError;
use crate::http::extract::AdminToken;
use crate::projects::{service, store};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/admin/projects",
            get(list_projects).post(create_project),
        )
        .route("/api/admin/projects/{project}", get(get_project))
        .route(
            "/api/admin/projects/{project}/members",
            get(list_members).put(set_member),
        )
        .route(
            "/api/admin/projects/{project}/members/{email}",
            axum::routing::delete(remove_member),
        )
        .route(
            "/api/admin/projects/{project}/environments",
            post(add_environment),
        )
        .route(
            "/api/admin/projects/{project}/tokens",
            get(list_tokens).post(create_token),
        )
        .route(
            "/api/admin/projects/{project}/tokens/{id}",
            axum::routing::delete(revoke_token),
        )
}

async fn list_projects(
    State(app): State<AppState>,
    AdminToken(id): AdminToken,
) -> Result<Json<Value>, ApiError> {
    let mut conn = app.db.acquire().await?;
    let reach = Reach::of(&mut conn, &id).await?;
    let mut all = store::summaries(&mut conn).await?;
    all.retain(|p| reach.contains_key(&p.key));
    Ok(Json(json!({ "projects": all })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewProject {
    key: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

async fn create_project(
    State(app): State<AppState>,
    AdminToken(id): AdminToken,
    ApiJson(body): ApiJson<NewProject>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let principal = crate::authz::reach::principal(&id, None);
    crate::authz::allows(principal, Action::CreateProject).map_err(|d| AppError::forbidden(d.0))?;
    let mut tx = begin_write(&app.db).await?;
    let p = service::create(
        &mut tx,
        &id.actor,
        &body.key,
        &body.name,
        &body.description,
        app.now(),
    )
    .await?;
    app.writes.commit(tx).await?;
    Ok((StatusCode::CREATED, Json(json!({ "project": p }))))
}

async fn get_project(
    State(app): State<AppState>,
    access: ProjectAccess,
) -> Result<Json<Value>, ApiError> {
    let mut conn = app.db.acquire().await?;
    let envs = store::environments(&mut conn, access.project.id).await?;
    Ok(Json(
        json!({ "project": access.project, "environments": envs, "yourRole": access.role }),
    ))
}

async fn list_members(
    State(app): State<AppState>,
    access: ProjectAccess,
) -> Result<Json<Value>, ApiError> {
    let mut conn = app.db.acquire().await?;
    let members = store::members(&mut conn, access.project.id).await?;
    Ok(Json(json!({ "members": members })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberBody {
    email: String,
    role: String,
}

async fn set_member(
    State(app): State<AppState>,
    access: ProjectAccess,
    ApiJson(body): ApiJson<MemberBody>,
) -> Result<Json<Value>, ApiError> {
    access.require(Action::ManageMembers)?;
    let role = Role::parse(&body.role)
        .ok_or_else(|| AppError::invalid("role", "choose viewer, editor, approver or owner"))?;
    let mut tx = begin_write(&app.db).await?;
    service::add_member_by_email(
        &mut tx,
        access.actor(),
        &access.project,
        &body.email,
        role,
        app.now(),
    )
    .await?;
    let members = store::members(&mut tx, access.project.id).await?;
    app.writes.commit(tx).await?;
    Ok(Json(json!({ "members": members })))
}

async fn remove_member(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path((_, email)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    access.require(Action::ManageMembers)?;
    let mut tx = begin_write(&app.db).await?;
    let email =
        crate::accounts::normalise_email(&email).map_err(|m| AppError::invalid("email", m))?;
    let user = crate::accounts::store::user_by_email(&mut tx, &email)
        .await?
        .ok_or_else(|| AppError::not_found(format!("no user has the e-mail {email}")))?;
    service::remove_member(&mut tx, access.actor(), &access.project, user.id, app.now()).await?;
    let members = store::members(&mut tx, access.project.id).await?;
    app.writes.commit(tx).await?;
    Ok(Json(json!({ "members": members })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EnvBody {
    key: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    protected: bool,
}

async fn add_environment(
    State(app): State<AppState>,
    access: ProjectAccess,
    ApiJson(body): ApiJson<EnvBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    access.require(Action::ManageEnvironments)?;
    let mut tx = begin_write(&app.db).await?;
    let env = service::add_environment(
        &mut tx,
        access.actor(),
        &access.project,
        &body.key,
        &body.name,
        body.protected,
        app.now(),
    )
    .await?;
    app.writes.commit(tx).await?;
    Ok((StatusCode::CREATED, Json(json!({ "environment": env }))))
}

async fn list_tokens(
    State(app): State<AppState>,
    access: ProjectAccess,
) -> Result<Json<Value>, ApiError> {
    access.require(Action::ManageTokens)?;
    let mut conn = app.db.acquire().await?;
    let tokens = token_store::list(&mut conn, &access.project).await?;
    Ok(Json(json!({ "tokens": tokens })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenBody {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    environment: Option<String>,
    /// Admin tokens act as this user (by e-mail); defaults to the caller.
    user: Option<String>,
}

async fn create_token(
    State(app): State<AppState>,
    access: ProjectAccess,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    access.require(Action::ManageTokens)?;
    let kind = TokenKind::parse(&body.kind)
        .ok_or_else(|| AppError::invalid("type", "choose client, frontend or admin"))?;
    let mut tx = begin_write(&app.db).await?;
    let env = match (&body.environment, kind) {
        (Some(e), TokenKind::Client | TokenKind::Frontend) => {
            Some(service::environment(&mut tx, &access.project, e).await?)
        }
        _ => None,
    };
    let user = match kind {
        TokenKind::Admin => {
            let email = body
                .user
                .clone()
                .unwrap_or_else(|| access.identity.user.email.clone());
            let u = crate::accounts::store::user_by_email(&mut tx, &email.trim().to_lowercase())
                .await?
                .ok_or_else(|| {
                    AppError::invalid("user", format!("no user has the e-mail {email}"))
                })?;
            Some((u.id, u.email))
        }
        _ => None,
    };
    let new = token_store::NewToken {
        kind,
        name: &body.name,
        environment: env.as_ref(),
        user: user.as_ref().map(|(i, e)| (*i, e.as_str())),
    };
    let created = token_store::create(
        &mut tx,
        access.actor(),
        Some(&access.project),
        new,
        app.now(),
    )
    .await?;
    app.writes.commit(tx).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "secret": created.secret, "token": created.info })),
    ))
}

async fn revoke_token(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path((_, id)): Path<(String, i64)>,
) -> Result<Json<Value>, ApiError> {
    access.require(Action::ManageTokens)?;
    let mut tx = begin_write(&app.db).await?;
    let info = token_store::revoke(&mut tx, access.actor(), &access.project, id, app.now()).await?;
    app.writes.commit(tx).await?;
    Ok(Json(json!({ "token": info })))
}
