//! Flags: list with the catalog's filters, create, read, edit, archive, revive, on and off.

use super::{ApiError, ApiJson, OptionalApiJson};
use crate::authz::{Action, ProjectAccess};
use crate::catalog::filter::CatalogFilter;
use crate::catalog::service::{self, FlagInput, FlagPatch};
use crate::catalog::store;
use crate::catalog::ArchiveNote;
use crate::changes::service::{Applied, Change, Outcome};
use crate::changes::Proposal;
use crate::db::begin_write;
use crate::http::commands;
use crate::projects::service as projects;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    let flag = "/api/admin/projects/{project}/flags/{key}";
    Router::new()
        .route(
            "/api/admin/projects/{project}/flags",
            get(list_flags).post(create_flag),
        )
        .route(flag, get(get_flag).patch(patch_flag))
        .route("/api/admin/projects/{project}/bulk-flags", post(bulk_flags))
        .route(&format!("{flag}/archive"), post(archive_flag))
        .route(&format!("{flag}/revive"), post(revive_flag))
        .route(
            &format!("{flag}/environments/{{env}}/on"),
            post(enable_flag),
        )
        .route(
            &format!("{flag}/environments/{{env}}/off"),
            post(disable_flag),
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

async fn list_flags(
    State(app): State<AppState>,
    access: ProjectAccess,
    Query(filter): Query<CatalogFilter>,
) -> Result<Json<Value>, ApiError> {
    let mut conn = app.db.acquire().await?;
    let page = store::search(&mut conn, &[access.project.id], &filter, None).await?;
    let ids: Vec<i64> = page.flags.iter().map(|f| f.id).collect();
    let mut tags = store::tags_of(&mut conn, &ids).await?;
    let states = store::env_states(&mut conn, &ids).await?;
    let mut stale = crate::lifecycle::store::stale_reasons_of(&mut conn, &ids).await?;
    let flags: Vec<Value> = page
        .flags
        .into_iter()
        .map(|f| {
            let envs: Vec<_> = states.iter().filter(|s| s.flag_id == f.id).collect();
            let pairs: Vec<(bool, bool)> = envs.iter().map(|e| e.stage_pair()).collect();
            let t = tags.remove(&f.id).unwrap_or_default();
            let mut v = json!(f);
            v["tags"] = json!(t);
            v["environments"] = json!(envs);
            v["lifecycleStage"] = json!(f.stage(&pairs));
            v["staleReasons"] = stale.remove(&f.id).unwrap_or_else(|| json!([]));
            v
        })
        .collect();
    Ok(Json(json!({
        "flags": flags, "total": page.total, "page": filter.page(),
        "pageSize": crate::catalog::filter::PAGE_SIZE,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NewFlagBody {
    key: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default, rename = "type")]
    flag_type: String,
    #[serde(default)]
    value_type: String,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    links: Vec<LinkBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    #[serde(default)]
    kind: String,
    url: String,
}

fn links(l: Vec<LinkBody>) -> Vec<(String, String)> {
    l.into_iter().map(|l| (l.kind, l.url)).collect()
}

async fn create_flag(
    State(app): State<AppState>,
    access: ProjectAccess,
    ApiJson(body): ApiJson<NewFlagBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    access.require(Action::CreateFlag)?;
    let input = FlagInput {
        key: body.key,
        name: body.name,
        description: body.description,
        flag_type: body.flag_type,
        value_type: body.value_type,
        owner: body.owner.unwrap_or_default(),
        tags: body.tags,
        links: links(body.links),
    };
    let mut tx = begin_write(&app.db).await?;
    let flag =
        service::create_flag(&mut tx, access.actor(), &access.project, input, app.now()).await?;
    app.writes.commit(tx).await?;
    Ok((StatusCode::CREATED, Json(json!({ "flag": flag }))))
}

async fn get_flag(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<FlagPath>,
) -> Result<Json<Value>, ApiError> {
    let mut conn = app.db.acquire().await?;
    let flag = service::detail(&mut conn, &access.project, &p.key, app.now()).await?;
    Ok(Json(json!({ "flag": flag })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    name: Option<String>,
    description: Option<String>,
    #[serde(rename = "type")]
    flag_type: Option<String>,
    owner: Option<String>,
    tags: Option<Vec<String>>,
    links: Option<Vec<LinkBody>>,
}

async fn patch_flag(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<FlagPath>,
    ApiJson(body): ApiJson<PatchBody>,
) -> Result<Json<Value>, ApiError> {
    access.require(Action::EditFlag)?;
    let patch = FlagPatch {
        name: body.name,
        description: body.description,
        flag_type: body.flag_type,
        owner: body.owner,
        tags: body.tags,
        links: body.links.map(links),
    };
    let mut tx = begin_write(&app.db).await?;
    let flag = service::update_flag(
        &mut tx,
        access.actor(),
        &access.project,
        &p.key,
        patch,
        app.now(),
    )
    .await?;
    app.writes.commit(tx).await?;
    Ok(Json(json!({ "flag": flag })))
}

async fn archive_flag(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<FlagPath>,
    OptionalApiJson(note): OptionalApiJson<ArchiveNote>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let note = note.checked()?;
    let mut tx = begin_write(&app.db).await?;
    // Archiving removes the flag from every feed, so where it is on in a protected environment
    // it goes into a change request like any other change there.
    let change = Change {
        flag_key: &p.key,
        env: None,
        proposal: Proposal::Archive { note },
    };
    let outcome = commands::propose(&mut tx, &access, change, app.now()).await?;
    app.writes.commit(tx).await?;
    Ok(match outcome {
        Outcome::Staged(cr) => super::changes::staged(cr),
        Outcome::Applied(Applied::Flag(flag)) => (StatusCode::OK, Json(json!({ "flag": flag }))),
        Outcome::Applied(_) => (StatusCode::OK, Json(json!({}))),
    })
}

async fn revive_flag(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<FlagPath>,
) -> Result<Json<Value>, ApiError> {
    access.require(Action::ArchiveFlag)?;
    let mut tx = begin_write(&app.db).await?;
    let flag = service::revive(&mut tx, access.actor(), &access.project, &p.key, app.now()).await?;
    app.writes.commit(tx).await?;
    Ok(Json(json!({ "flag": flag })))
}

async fn enable_flag(
    state: State<AppState>,
    access: ProjectAccess,
    p: Path<FlagEnvPath>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    toggle(state, access, p, true).await
}

async fn disable_flag(
    state: State<AppState>,
    access: ProjectAccess,
    p: Path<FlagEnvPath>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    toggle(state, access, p, false).await
}

/// Applies in an unprotected environment; in a protected one, stages into a change request.
async fn toggle(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<FlagEnvPath>,
    on: bool,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut tx = begin_write(&app.db).await?;
    let env = projects::environment(&mut tx, &access.project, &p.env).await?;
    let change = Change {
        flag_key: &p.key,
        env: Some(&env),
        proposal: Proposal::Toggle { enabled: on },
    };
    let outcome = commands::propose(&mut tx, &access, change, app.now()).await?;
    let answer = match outcome {
        Outcome::Staged(cr) => super::changes::staged(cr),
        Outcome::Applied(applied) => {
            let changed = matches!(applied, Applied::Toggle { changed: true });
            let flag = service::detail(&mut tx, &access.project, &p.key, app.now()).await?;
            let body = json!({ "flag": flag, "changed": changed });
            (StatusCode::OK, Json(body))
        }
    };
    app.writes.commit(tx).await?;
    Ok(answer)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkBody {
    flags: Vec<String>,
    /// `tag-add`, `tag-remove`, `owner`, `archive`, `on` or `off`.
    action: String,
    /// The tag, the owner (e-mail, `team:key`, empty for nobody), the reason to archive, or the
    /// environment to switch in.
    #[serde(default)]
    value: String,
}

/// Many flags at once: each an audited change of its own; archiving where a protected
/// environment serves the flag stages it into a change request. Answers each flag's outcome.
async fn bulk_flags(
    State(app): State<AppState>,
    access: ProjectAccess,
    ApiJson(body): ApiJson<BulkBody>,
) -> Result<Json<Value>, ApiError> {
    let action = crate::changes::bulk::BulkAction::parse(&body.action, &body.value)?;
    let mut tx = begin_write(&app.db).await?;
    let report = commands::bulk(&mut tx, &access, &body.flags, action, app.now()).await?;
    app.writes.commit(tx).await?;
    Ok(Json(
        json!({ "summary": report.summary(), "results": report.results }),
    ))
}
