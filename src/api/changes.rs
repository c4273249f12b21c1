//! Change requests (the four-eyes workflow), the emergency kill switch and environment
//! protection. Transitions act as the token's user; a refusal answers 403 (not for this user)
//! or 409 (not in this state, or a conflict) with a sentence.

use super::{ApiError, ApiJson};
use crate::authz::{Action, ProjectAccess};
use crate::changes::service::{self, ChangeRequestView, ListQuery};
use crate::changes::State as CrState;
use crate::db::begin_write;
use crate::error::AppError;
use crate::http::commands;
use crate::http::extract::AdminToken;
use crate::projects::service as projects;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes() -> Router<AppState> {
    let cr = "/api/admin/change-requests/{id}";
    let project = "/api/admin/projects/{project}";
    Router::new()
        .route("/api/admin/change-requests", get(list_change_requests))
        .route(cr, get(get_change_request).patch(reword_change_request))
        .route(&format!("{cr}/submit"), post(submit_change_request))
        .route(&format!("{cr}/approve"), post(approve_change_request))
        .route(&format!("{cr}/reject"), post(reject_change_request))
        .route(&format!("{cr}/apply"), post(apply_change_request))
        .route(&format!("{cr}/cancel"), post(cancel_change_request))
        .route(&format!("{cr}/schedule"), post(schedule_change_request))
        .route(&format!("{cr}/refresh"), post(refresh_change_request))
        .route(&format!("{cr}/comments"), post(comment_change_request))
        .route(&format!("{cr}/items/{{item}}"), delete(remove_change))
        .route(
            &format!("{project}/flags/{{key}}/environments/{{env}}/kill"),
            post(kill_flag),
        )
        .route(&format!("{project}/kills"), get(list_kills))
        .route(
            &format!("{project}/kills/{{id}}/acknowledge"),
            post(acknowledge_kill),
        )
        .route(
            &format!("{project}/environments/{{env}}/protection"),
            put(set_protection),
        )
}

type Answer = Result<Json<Value>, ApiError>;

/// A write to a protected environment went into the caller's draft: 202 with the request.
pub(super) fn staged(cr: Box<ChangeRequestView>) -> (StatusCode, Json<Value>) {
    (StatusCode::ACCEPTED, Json(json!({ "changeRequest": cr })))
}

fn answer(cr: ChangeRequestView) -> Answer {
    Ok(Json(json!({ "changeRequest": cr })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    project: Option<String>,
    state: Option<String>,
    #[serde(default)]
    mine: bool,
    /// Only finished requests (applied, rejected, cancelled), as the inbox's Closed tab.
    #[serde(default)]
    closed: bool,
    /// Only those of this author (their e-mail).
    author: Option<String>,
    /// Only those last changed at or after this RFC 3339 time.
    since: Option<String>,
}

async fn list_change_requests(
    State(app): State<AppState>,
    AdminToken(who): AdminToken,
    Query(p): Query<ListParams>,
) -> Answer {
    let state = match p.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(CrState::parse(s).ok_or_else(|| {
            AppError::invalid(
                "state",
                "choose one of draft, in-review, approved, scheduled, applied, rejected, cancelled, failed",
            )
        })?),
    };
    let since = match p.since.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(service::parse_time("since", s)?),
        None => None,
    };
    let q = ListQuery {
        project: p.project.as_deref().filter(|s| !s.is_empty()),
        state,
        mine: p.mine,
        closed: p.closed,
        author: p.author.as_deref().filter(|s| !s.is_empty()),
        since,
    };
    let list = service::list(&app.db, &who, &q).await?;
    Ok(Json(json!({ "changeRequests": list })))
}

async fn get_change_request(
    State(app): State<AppState>,
    AdminToken(who): AdminToken,
    Path(id): Path<i64>,
) -> Answer {
    answer(service::get(&app.db, &who, id).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WordingBody {
    title: Option<String>,
    reason: Option<String>,
}

async fn reword_change_request(
    State(app): State<AppState>,
    AdminToken(who): AdminToken,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<WordingBody>,
) -> Answer {
    let (title, reason) = (b.title.as_deref(), b.reason.as_deref());
    answer(service::reword(&app.writes, &who, id, title, reason, app.now()).await?)
}

async fn submit_change_request(
    State(app): State<AppState>,
    AdminToken(who): AdminToken,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<WordingBody>,
) -> Answer {
    let title = b.title.unwrap_or_default();
    let reason = b.reason.unwrap_or_default();
    answer(service::submit(&app.writes, &who, id, &title, &reason, app.now()).await?)
}

async fn approve_change_request(
    State(app): State<AppState>,
    AdminToken(who): AdminToken,
    Path(id): Path<i64>,
) -> Answer {
    answer(service::approve(&app.writes, &who, id, app.now()).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    #[serde(default)]
    reason: String,
}

async fn reject_change_request(
    State(app): State<AppState>,
    AdminToken(who): AdminToken,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<ReasonBody>,
) -> Answer {
    answer(service::reject(&app.writes, &who, id, &b.reason, app.now()).await?)
}

async fn apply_change_request(
    State(app): State<AppState>,
    AdminToken(who): AdminToken,
    Path(id): Path<i64>,
) -> Answer {
    answer(service::apply(&app.writes, &who, id, app.now()).await?)
}

async fn cancel_change_request(
    State(app): State<AppState>,
    AdminToken(who): AdminToken,
    Path(id): Path<i64>,
) -> Answer {
    answer(service::cancel(&app.writes, &who, id, app.now()).await?)
}

async fn refresh_change_request(
    State(app): State<AppState>,
    AdminToken(who): AdminToken,
    Path(id): Path<i64>,
) -> Answer {
    answer(service::refresh(&app.writes, &who, id, app.now()).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleBody {
    #[serde(default)]
    at: String,
}

async fn schedule_change_request(
    State(app): State<AppState>,
    AdminToken(who): AdminToken,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<ScheduleBody>,
) -> Answer {
    let at = service::parse_time("at", &b.at)?;
    answer(service::schedule(&app.writes, &who, id, at, app.now()).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentBody {
    #[serde(default)]
    body: String,
}

async fn comment_change_request(
    State(app): State<AppState>,
    AdminToken(who): AdminToken,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<CommentBody>,
) -> Answer {
    answer(service::comment(&app.writes, &who, id, &b.body, app.now()).await?)
}

async fn remove_change(
    State(app): State<AppState>,
    AdminToken(who): AdminToken,
    Path((id, item)): Path<(i64, i64)>,
) -> Answer {
    answer(service::remove_item(&app.writes, &who, id, item, app.now()).await?)
}

#[derive(Deserialize)]
struct FlagEnvPath {
    key: String,
    env: String,
}

async fn kill_flag(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<FlagEnvPath>,
    ApiJson(b): ApiJson<ReasonBody>,
) -> Answer {
    let mut tx = begin_write(&app.db).await?;
    let env = projects::environment(&mut tx, &access.project, &p.env).await?;
    access.require(Action::KillSwitch {
        protected: env.protected,
    })?;
    let (who, project) = (&access.identity, &access.project);
    let kill = service::kill(&mut tx, who, project, &p.key, &env, &b.reason, app.now()).await?;
    let flag = crate::catalog::service::detail(&mut tx, &access.project, &p.key, app.now()).await?;
    app.writes.commit(tx).await?;
    Ok(Json(json!({ "kill": kill, "flag": flag })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KillParams {
    #[serde(default)]
    open: bool,
}

async fn list_kills(
    State(app): State<AppState>,
    access: ProjectAccess,
    Query(q): Query<KillParams>,
) -> Answer {
    let mut conn = app.db.acquire().await?;
    let kills = service::kills(&mut conn, &access.project, q.open).await?;
    Ok(Json(json!({ "kills": kills })))
}

#[derive(Deserialize)]
struct KillPath {
    id: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcknowledgeBody {
    #[serde(default)]
    note: String,
}

async fn acknowledge_kill(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<KillPath>,
    ApiJson(b): ApiJson<AcknowledgeBody>,
) -> Answer {
    let mut tx = begin_write(&app.db).await?;
    let kill = commands::acknowledge_kill(&mut tx, &access, p.id, &b.note, app.now()).await?;
    app.writes.commit(tx).await?;
    Ok(Json(json!({ "kill": kill })))
}

#[derive(Deserialize)]
struct EnvPath {
    env: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ProtectionBody {
    protected: bool,
    required_approvals: Option<i64>,
}

async fn set_protection(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<EnvPath>,
    ApiJson(b): ApiJson<ProtectionBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut tx = begin_write(&app.db).await?;
    let env = projects::environment(&mut tx, &access.project, &p.env).await?;
    let n = b.required_approvals.unwrap_or(env.required_approvals);
    let outcome =
        commands::set_protection(&mut tx, &access, &env, b.protected, n, app.now()).await?;
    app.writes.commit(tx).await?;
    Ok(match outcome {
        service::ProtectionOutcome::Applied(env) => {
            (StatusCode::OK, Json(json!({ "environment": env })))
        }
        service::ProtectionOutcome::Staged(cr) => staged(cr),
    })
}
