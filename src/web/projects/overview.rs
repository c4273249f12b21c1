//! A project's overview: environments and their protection, members and their roles.

use super::project_href;
use crate::authz::{Action, ProjectAccess, Role};
use crate::changes::service as changes;
use crate::db::begin_write;
use crate::error::AppError;
use crate::http::commands;
use crate::projects::{service, store, Environment, Member};
use crate::state::AppState;
use crate::web::{render_with, Errors, Layout, PageError, PageResult, ProjectCtx, WebForm};
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

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
    /// Whether the policy lets the viewer change this environment's protection.
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
    health: super::lifecycle::HealthCard,
    roles: Vec<&'static str>,
    forms: OverviewForms,
}

async fn show_project(ctx: ProjectCtx) -> PageResult {
    overview(&ctx, OverviewForms::default(), StatusCode::OK).await
}

/// The overview again, with a failed form's values and errors.
async fn overview_again(ctx: &ProjectCtx, forms: OverviewForms) -> PageResult {
    overview(ctx, forms, StatusCode::UNPROCESSABLE_ENTITY).await
}

async fn overview(ctx: &ProjectCtx, forms: OverviewForms, status: StatusCode) -> PageResult {
    let mut conn = ctx.app.db.acquire().await?;
    let access = &ctx.who;
    let p = &access.project;
    let environments = store::environments(&mut conn, p.id)
        .await?
        .into_iter()
        .map(|e| env_view(e, access))
        .collect();
    let members = store::members(&mut conn, p.id).await?;
    let (flags, archived) = flag_counts(&mut conn, access).await?;
    let health = super::lifecycle::health_card(&mut conn, p, ctx.app.now()).await?;
    let page = ShowPage {
        layout: Layout::new(
            &ctx.session,
            Some(&access.identity),
            p.name.clone(),
            "projects",
        )
        .await,
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
        health,
        roles: Role::ALL.iter().map(|r| r.as_str()).collect(),
        forms,
    };
    render_with(&page, status)
}

fn env_view(e: Environment, access: &ProjectAccess) -> EnvView {
    EnvView {
        can_protect: access.can(protection_of(&e)),
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
    conn: &mut crate::db::Conn,
    access: &ProjectAccess,
) -> Result<(i64, i64), PageError> {
    let all = store::summaries(conn).await?;
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

async fn set_member(ctx: ProjectCtx, WebForm(form): WebForm<MemberForm>) -> PageResult {
    ctx.require(Action::ManageMembers)?;
    let result = match Role::parse(&form.role) {
        None => Err(AppError::invalid(
            "role",
            "choose viewer, editor, approver or owner",
        )),
        Some(role) => {
            let mut tx = begin_write(&ctx.app.db).await?;
            let (actor, p, now) = (ctx.who.actor(), &ctx.who.project, ctx.app.now());
            let r = service::add_member_by_email(&mut tx, actor, p, &form.email, role, now).await;
            ctx.app.writes.commit_if_ok(tx, r).await
        }
    };
    if let Err(errors) = Errors::check(result)? {
        let forms = OverviewForms {
            member_errors: errors,
            member_email: form.email,
            member_role: form.role,
            ..Default::default()
        };
        return overview_again(&ctx, forms).await;
    }
    let msg = format!(
        "{} is now {} of this project.",
        form.email.trim(),
        form.role
    );
    ctx.done(msg, &project_href(&ctx.who.project.key, "")).await
}

async fn remove_member(ctx: ProjectCtx, Path((_, user_id)): Path<(String, i64)>) -> PageResult {
    ctx.require(Action::ManageMembers)?;
    let mut tx = begin_write(&ctx.app.db).await?;
    let (actor, p, now) = (ctx.who.actor(), &ctx.who.project, ctx.app.now());
    let removed = service::remove_member(&mut tx, actor, p, user_id, now).await;
    let done = ctx
        .app
        .writes
        .commit_if_ok(tx, removed)
        .await
        .map(|()| "Member removed.".into());
    // The last owner stays: say why on the overview rather than on an error page.
    ctx.finish(done, &project_href(&p.key, "")).await
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

async fn add_environment(ctx: ProjectCtx, WebForm(form): WebForm<EnvForm>) -> PageResult {
    ctx.require(Action::ManageEnvironments)?;
    let protected = form.protected.is_some();
    let mut tx = begin_write(&ctx.app.db).await?;
    let (actor, p, now) = (ctx.who.actor(), &ctx.who.project, ctx.app.now());
    let (key, name) = (&form.key, &form.name);
    let added = service::add_environment(&mut tx, actor, p, key, name, protected, now).await;
    match Errors::check(ctx.app.writes.commit_if_ok(tx, added).await)? {
        Ok(env) => {
            let msg = format!("Environment {} added.", env.key);
            ctx.done(msg, &project_href(&p.key, "")).await
        }
        Err(errors) => {
            let forms = OverviewForms {
                env_errors: errors,
                env_key: form.key,
                env_name: form.name,
                env_protected: protected,
                ..Default::default()
            };
            overview_again(&ctx, forms).await
        }
    }
}

fn protection_of(env: &Environment) -> Action {
    Action::SetProtection {
        production: env.production,
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
    ctx: ProjectCtx,
    Path((_, env_key)): Path<(String, String)>,
    WebForm(form): WebForm<ProtectionForm>,
) -> PageResult {
    let approvals = form.required_approvals.trim().parse::<i64>().unwrap_or(0);
    let mut tx = begin_write(&ctx.app.db).await?;
    let (p, now) = (&ctx.who.project, ctx.app.now());
    let env = service::environment(&mut tx, p, &env_key).await?;
    // The policy decides, as for the API: owners for most environments, admins for production.
    ctx.require(protection_of(&env))?;
    let on = form.protected.is_some();
    let saved = commands::set_protection(&mut tx, &ctx.who, &env, on, approvals, now).await;
    match Errors::check(ctx.app.writes.commit_if_ok(tx, saved).await)? {
        Err(errors) => {
            let message = errors.0.into_iter().next().map(|f| f.message);
            let forms = OverviewForms {
                protection_error: Some((env_key, message.unwrap_or_default())),
                ..Default::default()
            };
            overview_again(&ctx, forms).await
        }
        Ok(changes::ProtectionOutcome::Applied(_)) => {
            let msg = format!("Protection of {env_key} saved.");
            ctx.done(msg, &project_href(&p.key, "")).await
        }
        Ok(changes::ProtectionOutcome::Staged(cr)) => {
            let msg = format!(
                "Lowering the protection of {env_key} is itself reviewed: it is in your draft \
                 change request #{}, and {env_key} stays as it is until somebody else who may \
                 set its protection approves it.",
                cr.id
            );
            ctx.done(msg, &crate::web::href::change_request(cr.id))
                .await
        }
    }
}
