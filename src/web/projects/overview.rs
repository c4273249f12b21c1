//! A project's overview: environments and their protection, members and their roles.

use super::render_with;
use crate::app::AppState;
use crate::authz::{Action, ProjectAccess, Role};
use crate::db::begin_write;
use crate::error::AppError;
use crate::projects::{service, store, Environment, Member};
use crate::web::{see_other, Errors, Flash, Layout, PageError, PageResult, WebForm};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tower_sessions::Session;

pub(super) fn routes() -> Router<AppState> {
    let p = "/projects/{project}";
    Router::new()
        .route(p, get(show_project))
        .route(&format!("{p}/members"), post(set_member))
        .route(
            &format!("{p}/members/{{user_id}}/remove"),
            post(remove_member),
        )
        .route(&format!("{p}/environments"), post(add_environment))
        .route(
            &format!("{p}/environments/{{env}}/protection"),
            post(set_protection),
        )
}

/// An environment as the templates need it: plain strings and bools.
struct EnvView {
    key: String,
    name: String,
    protected: bool,
    approvals: i64,
    /// Only admins may change production's protection.
    can_protect: bool,
}

struct MemberView {
    user_id: i64,
    email: String,
    name: String,
    role: &'static str,
    active: bool,
}

impl From<Member> for MemberView {
    fn from(m: Member) -> Self {
        MemberView {
            user_id: m.user_id,
            email: m.email,
            name: m.name,
            role: m.role.as_str(),
            active: m.active,
        }
    }
}

/// What the overview's forms send back when they fail: the values and the errors.
#[derive(Default)]
struct OverviewForms {
    member_email: String,
    member_role: String,
    member_errors: Errors,
    env_key: String,
    env_name: String,
    env_protected: bool,
    env_errors: Errors,
    /// (environment key, message) of a failed protection change.
    protection_error: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "projects/show.html")]
struct ShowPage {
    layout: Layout,
    key: String,
    name: String,
    description: String,
    key_pattern: String,
    key_example: String,
    your_role: &'static str,
    can_manage: bool,
    environments: Vec<EnvView>,
    members: Vec<MemberView>,
    flags: i64,
    archived: i64,
    roles: Vec<&'static str>,
    forms: OverviewForms,
}

async fn show_project(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
) -> PageResult {
    overview(
        &app,
        &session,
        &access,
        OverviewForms::default(),
        StatusCode::OK,
    )
    .await
}

async fn overview(
    app: &AppState,
    session: &Session,
    access: &ProjectAccess,
    forms: OverviewForms,
    status: StatusCode,
) -> PageResult {
    let mut conn = app.db.acquire().await?;
    let p = &access.project;
    let is_admin = access.identity.user.is_admin;
    let environments = store::environments(&mut conn, p.id)
        .await?
        .into_iter()
        .map(|e| env_view(e, is_admin))
        .collect();
    let members = store::members(&mut conn, p.id).await?;
    let (flags, archived) = flag_counts(&mut conn, access).await?;
    let page = ShowPage {
        layout: Layout::new(session, Some(&access.identity), p.name.clone(), "projects").await,
        key: p.key.clone(),
        name: p.name.clone(),
        description: p.description.clone(),
        key_pattern: p.key_pattern.clone().unwrap_or_default(),
        key_example: p.key_example.clone().unwrap_or_default(),
        your_role: your_role(access),
        can_manage: access.can(Action::ManageMembers),
        environments,
        members: members.into_iter().map(MemberView::from).collect(),
        flags,
        archived,
        roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
        forms,
    };
    render_with(&page, status)
}

fn env_view(e: Environment, is_admin: bool) -> EnvView {
    EnvView {
        can_protect: is_admin || e.key != "production",
        key: e.key,
        name: e.name,
        protected: e.protected,
        approvals: e.required_approvals,
    }
}

fn your_role(access: &ProjectAccess) -> &'static str {
    match access.role {
        Some(r) => r.as_str(),
        None if access.identity.user.is_admin => "admin",
        None => "",
    }
}

async fn flag_counts(
    conn: &mut sqlx::SqliteConnection,
    access: &ProjectAccess,
) -> Result<(i64, i64), PageError> {
    let id = &access.identity;
    let all = store::summaries(conn, Some(id.user.id), id.user.is_admin).await?;
    Ok(all
        .iter()
        .find(|s| s.key == access.project.key)
        .map(|s| (s.flags, s.archived))
        .unwrap_or((0, 0)))
}

#[derive(Deserialize)]
struct MemberForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

async fn set_member(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
    WebForm(form): WebForm<MemberForm>,
) -> PageResult {
    access.require(Action::ManageMembers)?;
    let result = match Role::parse(&form.role) {
        None => Err(AppError::invalid(
            "role",
            "choose viewer, editor, approver or owner",
        )),
        Some(role) => {
            let mut tx = begin_write(&app.db).await?;
            let (actor, p, now) = (access.actor(), &access.project, app.now());
            let r = service::add_member_by_email(&mut tx, actor, p, &form.email, role, now).await;
            if r.is_ok() {
                tx.commit().await?;
            }
            r
        }
    };
    if let Err(e) = result {
        let forms = OverviewForms {
            member_errors: Errors::from_app(e)?,
            member_email: form.email,
            member_role: form.role,
            ..Default::default()
        };
        return overview(
            &app,
            &session,
            &access,
            forms,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let msg = format!(
        "{} is now {} of this project.",
        form.email.trim(),
        form.role
    );
    Flash::set(&session, "success", msg).await;
    Ok(see_other(&format!("/projects/{}", access.project.key)))
}

async fn remove_member(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
    Path((_, user_id)): Path<(String, i64)>,
) -> PageResult {
    access.require(Action::ManageMembers)?;
    let mut tx = begin_write(&app.db).await?;
    let (actor, p, now) = (access.actor(), &access.project, app.now());
    match service::remove_member(&mut tx, actor, p, user_id, now).await {
        Ok(()) => {
            tx.commit().await?;
            Flash::set(&session, "success", "Member removed.").await;
        }
        // The last owner stays: say why on the overview rather than on an error page.
        Err(AppError::Conflict { message, .. }) => {
            Flash::set(&session, "error", crate::web::sentence(&message)).await;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(&format!("/projects/{}", p.key)))
}

#[derive(Deserialize)]
struct EnvForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    protected: Option<String>,
}

async fn add_environment(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
    WebForm(form): WebForm<EnvForm>,
) -> PageResult {
    access.require(Action::ManageEnvironments)?;
    let protected = form.protected.is_some();
    let mut tx = begin_write(&app.db).await?;
    let (actor, p, now) = (access.actor(), &access.project, app.now());
    match service::add_environment(&mut tx, actor, p, &form.key, &form.name, protected, now).await {
        Ok(env) => {
            tx.commit().await?;
            Flash::set(
                &session,
                "success",
                format!("Environment {} added.", env.key),
            )
            .await;
            Ok(see_other(&format!("/projects/{}", p.key)))
        }
        Err(e) => {
            drop(tx);
            let forms = OverviewForms {
                env_errors: Errors::from_app(e)?,
                env_key: form.key,
                env_name: form.name,
                env_protected: protected,
                ..Default::default()
            };
            overview(
                &app,
                &session,
                &access,
                forms,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct ProtectionForm {
    #[serde(default)]
    protected: Option<String>,
    #[serde(default)]
    required_approvals: String,
}

async fn set_protection(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
    Path((_, env_key)): Path<(String, String)>,
    WebForm(form): WebForm<ProtectionForm>,
) -> PageResult {
    access.require(Action::ManageEnvironments)?;
    if env_key == "production" && !access.identity.user.is_admin {
        return Err(AppError::forbidden("only admins may change production's protection").into());
    }
    let approvals = form.required_approvals.trim().parse::<i64>().unwrap_or(0);
    let mut tx = begin_write(&app.db).await?;
    let env = service::environment(&mut tx, &access.project, &env_key).await?;
    let (actor, p, now) = (access.actor(), &access.project, app.now());
    let on = form.protected.is_some();
    if let Err(e) = service::set_protection(&mut tx, actor, p, &env, on, approvals, now).await {
        drop(tx);
        let message = Errors::from_app(e)?.0.into_iter().next().map(|f| f.message);
        let forms = OverviewForms {
            protection_error: Some((env_key, message.unwrap_or_default())),
            ..Default::default()
        };
        return overview(
            &app,
            &session,
            &access,
            forms,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    tx.commit().await?;
    Flash::set(
        &session,
        "success",
        format!("Protection of {env_key} saved."),
    )
    .await;
    Ok(see_other(&format!("/projects/{}", access.project.key)))
}
