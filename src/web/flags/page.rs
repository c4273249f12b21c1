//! One flag: its environments with their switches, its metadata and its history; archive and revive.

use super::env_row::{env_row, env_rows, EnvRow, RowContext};
use super::governance::{self, KillBanner, PendingBadge};
use super::refusal::{self, Refusal};
use super::usage::{usage_view, UsageView};
use super::{flag_href, short_time, FlagPath};
use crate::audit::store as audit_store;
use crate::authz::{Action, ProjectAccess};
use crate::catalog::service::{self, FlagDetail};
use crate::changes::service as changes;
use crate::db::begin_write;
use crate::db::Conn;
use crate::error::AppError;
use crate::http::commands;
use crate::projects::{service as projects, store as projects_store, Environment};
use crate::state::AppState;
use crate::web::described::{self, EntryRow};
use crate::web::releases::brief::{self, PlanBrief};
use crate::web::{render, see_other, Flash, Layout, PageError, PageResult, WebForm};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum_htmx::HxRequest;
use serde::Deserialize;
use tower_sessions::Session;
// ---------- One flag ----------

pub struct FlagView {
    key: String,
    name: String,
    description: String,
    flag_type: String,
    lifetime: String,
    value_type: String,
    owner: String,
    tags: Vec<String>,
    links: Vec<(String, String)>,
    created_by: String,
    created_at: String,
    stage: &'static str,
    stale: Vec<String>,
    archived: bool,
}

impl From<&FlagDetail> for FlagView {
    fn from(d: &FlagDetail) -> Self {
        FlagView {
            key: d.flag.key.clone(),
            name: d.flag.name.clone(),
            description: d.flag.description.clone(),
            flag_type: d.flag.flag_type.clone(),
            lifetime: d
                .expected_lifetime_days
                .map_or("permanent".into(), |n| format!("expected to live {n} days")),
            value_type: d.flag.value_type.clone(),
            owner: d.flag.owner.clone().unwrap_or_default(),
            tags: d.tags.clone(),
            links: d
                .links
                .iter()
                .map(|l| (l.kind.clone(), l.url.clone()))
                .collect(),
            created_by: d.flag.created_by.clone(),
            created_at: short_time(&d.flag.created_at),
            stage: d.lifecycle_stage.as_str(),
            stale: d.stale_reasons.iter().map(|r| r.message.clone()).collect(),
            archived: d.flag.archived_at.is_some(),
        }
    }
}

#[derive(Template)]
#[template(path = "flags/show.html")]
struct FlagPage {
    layout: Layout,
    project_key: String,
    href: String,
    tab: &'static str,
    flag: FlagView,
    envs: Vec<EnvRow>,
    history: Vec<EntryRow>,
    usage: Option<UsageView>,
    lifecycle: super::lifecycle::LifecycleView,
    /// The retirement checklist (Lifecycle tab, completed or stale flags).
    retirement: Option<super::retirement::RetirementView>,
    can_edit: bool,
    can_archive: bool,
    /// What the Archive button's confirmation says will happen.
    archive_confirm: String,
    pending: Vec<PendingBadge>,
    kills: Vec<KillBanner>,
}

#[derive(Deserialize, Default)]
pub(super) struct TabQuery {
    #[serde(default)]
    tab: Option<String>,
}

pub(super) async fn show_flag(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
    Path(p): Path<FlagPath>,
    Query(q): Query<TabQuery>,
) -> PageResult {
    let mut conn = app.db.acquire().await?;
    let detail = service::detail(&mut conn, &access.project, &p.key, app.now()).await?;
    let tab = match q.tab.as_deref() {
        Some("history") => "history",
        Some("usage") => "usage",
        Some("lifecycle") => "lifecycle",
        _ => "overview",
    };
    let history = if tab == "history" {
        history(&mut conn, &access, &p.key).await?
    } else {
        Vec::new()
    };
    let usage = match tab {
        "usage" => Some(usage_view(&mut conn, &access.project, &p.key, app.now()).await?),
        _ => None,
    };
    let retirement = match tab {
        "lifecycle" => {
            super::retirement::retirement_view(&mut conn, &access.project, &detail, app.now())
                .await?
        }
        _ => None,
    };
    let layout = Layout::new(&session, Some(&access.identity), p.key.clone(), "flags").await;
    let pending = governance::pending(&mut conn, &access, detail.flag.id).await?;
    let kills = governance::kill_banners(&mut conn, &access, &p.key).await?;
    let environments = projects_store::environments(&mut conn, access.project.id).await?;
    let plans = plan_briefs(&mut conn, &access, &environments, &p.key, app.now()).await?;
    let mut lifecycle = super::lifecycle::LifecycleView::of(&detail);
    if tab == "lifecycle" {
        lifecycle
            .everyone_now(&mut conn, &access.project, &detail)
            .await?;
        lifecycle.plans = plans.clone();
    }
    let cx = RowContext {
        access: &access,
        csrf: &layout.csrf,
        flag_key: &p.key,
        archived: detail.flag.archived_at.is_some(),
        pending: &pending,
        kills: &kills,
        plans,
        refused: refusal::take(&session, &access.project.key, &p.key).await,
    };
    let envs = env_rows(cx, &detail, &environments);
    let page = FlagPage {
        project_key: access.project.key.clone(),
        href: flag_href(&access.project.key, &p.key),
        tab,
        flag: FlagView::from(&detail),
        envs,
        history,
        usage,
        lifecycle,
        retirement,
        can_edit: access.can(Action::EditFlag) && detail.flag.archived_at.is_none(),
        can_archive: may_archive(&access, &detail),
        archive_confirm: archive_confirm(&detail),
        pending,
        kills,
        layout,
    };
    render(&page)
}

/// As `changes::service::propose` decides: archiving a flag that is on in a protected
/// environment changes it, so it is proposed there (staged into a change request).
fn may_archive(access: &ProjectAccess, d: &FlagDetail) -> bool {
    let live_protected = d.environments.iter().any(|e| e.enabled && e.protected);
    access.can(Action::ArchiveFlag)
        && (d.flag.archived_at.is_some() || !live_protected || access.can(Action::ProposeChange))
}

/// Archiving a flag on in a protected environment only proposes it: say so before the click.
fn archive_confirm(d: &FlagDetail) -> String {
    let key = &d.flag.key;
    match d.environments.iter().find(|e| e.enabled && e.protected) {
        Some(e) => format!(
            "Propose archiving {key}? It is on in {}, a protected environment, so this adds it \
             to your draft change request; SDKs keep receiving it until the request is approved \
             and applied.",
            e.env_key
        ),
        None => format!("Archive {key}? SDKs will no longer receive it."),
    }
}

/// The release plans under way for the flag, in brief, for its environment rows.
async fn plan_briefs(
    conn: &mut Conn,
    access: &ProjectAccess,
    envs: &[Environment],
    key: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<PlanBrief>, PageError> {
    let plans = crate::rollout::view::in_progress(conn, &access.project, envs, key, now).await?;
    let project = &access.project.key;
    Ok(plans.iter().map(|v| brief::of(v, project, now)).collect())
}

/// The flag's changes, newest first, in words; a change request's own bookkeeping stays on the
/// request's page (each change it applied names it).
async fn history(
    conn: &mut Conn,
    access: &ProjectAccess,
    key: &str,
) -> Result<Vec<EntryRow>, PageError> {
    let filter = audit_store::Filter {
        project: Some(access.project.key.clone()),
        flag: Some(key.to_string()),
        hide_change_requests: true,
        ..Default::default()
    };
    let entries = audit_store::list(&mut *conn, &filter, &None, 200, None).await?;
    Ok(described::rows(conn, entries).await?)
}

// ---------- Changes to one flag ----------

#[derive(Deserialize)]
pub(super) struct FlagEnvPath {
    #[allow(dead_code)]
    project: String,
    key: String,
    env: String,
}

#[derive(Deserialize)]
pub(super) struct ToggleForm {
    on: String,
}

pub(super) async fn toggle(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
    HxRequest(hx): HxRequest,
    Path(p): Path<FlagEnvPath>,
    WebForm(form): WebForm<ToggleForm>,
) -> PageResult {
    let on = form.on == "true";
    let mut tx = begin_write(&app.db).await?;
    let env = projects::environment(&mut tx, &access.project, &p.env).await?;
    let (project, now) = (&access.project, app.now());
    let change = changes::Change {
        flag_key: &p.key,
        env: Some(&env),
        proposal: crate::changes::Proposal::Toggle { enabled: on },
    };
    let outcome = match commands::propose(&mut tx, &access, change, now).await {
        // Nothing was written (the transaction is dropped): back to the flag, saying why.
        Err(AppError::Conflict {
            code: "gradual-start-required",
            message,
        }) => {
            let refusal = Refusal {
                project: project.key.clone(),
                flag: p.key.clone(),
                env: env.key.clone(),
                message,
            };
            return refusal::back_to_flag(&session, hx, refusal).await;
        }
        other => other?,
    };
    let detail = service::detail(&mut tx, project, &p.key, now).await?;
    app.writes.commit(tx).await?;
    if let changes::Outcome::Staged(cr) = outcome {
        // A protected environment never flips in place: the change waits in the draft.
        let message = format!(
            "Added to your draft change request #{}: {} stays as it is in {} until it is approved and applied.",
            cr.id, p.key, env.key
        );
        Flash::set(&session, "success", message).await;
        let to = crate::web::href::change_request(cr.id);
        if hx {
            return Ok(([("hx-redirect", to)], StatusCode::OK).into_response());
        }
        return Ok(see_other(&to));
    }
    if hx {
        let csrf = crate::auth::csrf::token(&session).await;
        let state = detail
            .environments
            .iter()
            .find(|s| s.environment_id == env.id);
        let mut conn = app.db.acquire().await?;
        let pending = governance::pending(&mut conn, &access, detail.flag.id).await?;
        let plans = plan_briefs(&mut conn, &access, std::slice::from_ref(&env), &p.key, now);
        let mut cx = RowContext {
            access: &access,
            csrf: &csrf,
            flag_key: &p.key,
            archived: false,
            pending: &pending,
            // The switch swaps in unprotected rows only, where nothing is killed.
            kills: &[],
            plans: plans.await?,
            refused: None,
        };
        return render(&env_row(&mut cx, &env, state));
    }
    let word = if on { "on" } else { "off" };
    Flash::set(
        &session,
        "success",
        format!("{} is now {word} in {}.", p.key, env.key),
    )
    .await;
    Ok(see_other(&flag_href(&project.key, &p.key)))
}
