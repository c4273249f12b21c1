//! The presets catalog: `/release-templates` (instance-wide, admins edit) and
//! `/projects/{p}/release-templates` (the ones a project may apply; owners edit its own, and
//! set whether switching on in a protected environment must be gradual).
//!
//! The form edits milestones that are one rollout each (a share, a stickiness, an optional
//! segment by name, a hold): the usual shape. A template with other strategies (constraints,
//! variants, several strategies) is shown in words and edited through the admin API.

use super::form::{padded, rows_of, Row, TemplateForm};
use crate::audit::describe::{plans, Names};
use crate::authz::{allows, Action};
use crate::db::begin_write;
use crate::error::{AppError, AppResult};
use crate::rollout::templates::{self, Owner};
use crate::rollout::TemplateView;
use crate::state::AppState;
use crate::web::{render_form, Errors, Layout, PageResult, ProjectCtx, UserCtx, WebForm};
use askama::Template;
use axum::extract::Query;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/release-templates", get(instance_page).post(instance_save))
        .route(
            "/projects/{project}/release-templates",
            get(project_page).post(project_save),
        )
        .route(
            "/projects/{project}/release-templates/settings",
            post(project_settings),
        )
}

/// A template as the page lists it.
pub(super) struct Listed {
    key: String,
    name: String,
    scope: &'static str,
    milestones: Vec<String>,
    editable: bool,
    /// Whether the form can show it (every milestone one plain rollout).
    simple: bool,
}

#[derive(Template)]
#[template(path = "releases/templates.html")]
struct TemplatesPage {
    layout: Layout,
    /// None on the instance-wide page.
    project: Option<String>,
    listed: Vec<Listed>,
    can_edit: bool,
    /// The key being edited (the form's key is then fixed), or None for a new template.
    editing: Option<String>,
    key: String,
    name: String,
    rows: Vec<Row>,
    errors: Errors,
    require_gradual: bool,
    can_manage: bool,
}

#[derive(Deserialize, Default)]
struct EditQuery {
    edit: Option<String>,
}

fn listed(t: &TemplateView, editable: bool) -> Listed {
    let names = Names::default();
    Listed {
        key: t.key.clone(),
        name: t.name.clone(),
        scope: t.scope,
        milestones: t
            .milestones
            .iter()
            .map(|m| plans::milestone(&serde_json::to_value(m).unwrap_or_default(), &names))
            .collect(),
        editable,
        simple: rows_of(t).is_some(),
    }
}

/// What the page shows besides the list: the form (new, or one template being edited).
struct FormState {
    editing: Option<String>,
    key: String,
    name: String,
    rows: Vec<Row>,
    errors: Errors,
}

impl FormState {
    fn blank() -> FormState {
        FormState {
            editing: None,
            key: String::new(),
            name: String::new(),
            rows: padded(Vec::new()),
            errors: Errors::default(),
        }
    }

    fn of(t: &TemplateView) -> FormState {
        FormState {
            editing: Some(t.key.clone()),
            key: t.key.clone(),
            name: t.name.clone(),
            rows: padded(rows_of(t).unwrap_or_default()),
            errors: Errors::default(),
        }
    }

    fn again(form: &TemplateForm, errors: Errors) -> FormState {
        let editing = Some(form.get("editing")).filter(|e| !e.is_empty());
        FormState {
            key: form.get("key"),
            name: form.get("name"),
            rows: form.rows(),
            editing,
            errors,
        }
    }
}

fn may(ctx_admin: crate::authz::Principal, instance_wide: bool) -> bool {
    allows(ctx_admin, Action::ManageReleaseTemplates { instance_wide }).is_ok()
}

async fn instance_view(ctx: &UserCtx, form: FormState, edit: Option<&str>) -> PageResult {
    let who = ctx.identity();
    let can_edit = may(crate::authz::reach::principal(who, None), true);
    let mut conn = ctx.app.db.acquire().await?;
    let list = templates::own(&mut conn, None).await?;
    let form = match edit.and_then(|k| list.iter().find(|t| t.key == k)) {
        Some(t) if form.errors.is_empty() && can_edit => FormState::of(t),
        _ => form,
    };
    let page = TemplatesPage {
        layout: Layout::new(&ctx.session, Some(who), "Release templates", "projects").await,
        project: None,
        listed: list.iter().map(|t| listed(t, can_edit)).collect(),
        can_edit,
        editing: form.editing,
        key: form.key,
        name: form.name,
        rows: form.rows,
        errors: form.errors,
        require_gradual: false,
        can_manage: false,
    };
    render_form(&page, &page.errors)
}

async fn instance_page(ctx: UserCtx, Query(q): Query<EditQuery>) -> PageResult {
    instance_view(&ctx, FormState::blank(), q.edit.as_deref()).await
}

/// Saves the form for `owner`; `allowed` asks the policy for [`Owner::action`] once the form
/// reads well (a bad form comes back with its errors whoever sent it).
async fn save(
    app: &AppState,
    owner: &Owner<'_>,
    allowed: impl FnOnce() -> AppResult<()>,
    form: &TemplateForm,
) -> AppResult<TemplateView> {
    let draft = form.draft()?;
    allowed()?;
    let editing = form.get("editing");
    let mut tx = begin_write(&app.db).await?;
    let done = if editing.is_empty() {
        templates::create(&mut tx, owner, draft, app.now()).await
    } else {
        templates::update(&mut tx, owner, &editing, draft, app.now()).await
    };
    app.writes.commit_if_ok(tx, done).await
}

/// Field errors (by path or by field) come back to the form as one list.
fn form_errors(e: AppError) -> Result<Errors, AppError> {
    match e {
        AppError::InvalidPaths(paths) => Ok(Errors(
            paths
                .into_iter()
                .map(|p| crate::error::FieldError {
                    field: "milestones",
                    message: format!("{}: {}", p.field, p.message),
                })
                .collect(),
        )),
        AppError::Invalid(fields) => Ok(Errors(fields)),
        AppError::Conflict { message, .. } => Ok(Errors::one("key", message)),
        other => Err(other),
    }
}

async fn instance_save(ctx: UserCtx, WebForm(form): WebForm<TemplateForm>) -> PageResult {
    let owner = Owner::Instance(&ctx.identity().actor);
    let allowed = || ctx.require(owner.action()).map_err(|e| e.0);
    match save(&ctx.app, &owner, allowed, &form).await {
        Ok(t) => {
            ctx.done(
                format!("Saved the template {}.", t.name),
                "/release-templates",
            )
            .await
        }
        Err(e) => {
            let errors = form_errors(e)?;
            instance_view(&ctx, FormState::again(&form, errors), None).await
        }
    }
}

async fn project_view(ctx: &ProjectCtx, form: FormState, edit: Option<&str>) -> PageResult {
    ctx.require(Action::ViewProject)?;
    let access = &ctx.who;
    let can_edit = access.can(Action::ManageReleaseTemplates {
        instance_wide: false,
    });
    let mut conn = ctx.app.db.acquire().await?;
    let list = templates::offered(&mut conn, &access.project).await?;
    let require_gradual = templates::require_gradual(&mut conn, &access.project).await?;
    let form = match edit.and_then(|k| list.iter().find(|t| t.key == k && !t.is_instance_wide())) {
        Some(t) if form.errors.is_empty() && can_edit => FormState::of(t),
        _ => form,
    };
    let title = format!("Release templates · {}", access.project.key);
    let page = TemplatesPage {
        layout: Layout::new(&ctx.session, Some(&access.identity), title, "projects").await,
        project: Some(access.project.key.clone()),
        listed: list
            .iter()
            .map(|t| listed(t, can_edit && !t.is_instance_wide()))
            .collect(),
        can_edit,
        editing: form.editing,
        key: form.key,
        name: form.name,
        rows: form.rows,
        errors: form.errors,
        require_gradual,
        can_manage: access.can(Action::ManageSettings),
    };
    render_form(&page, &page.errors)
}

async fn project_page(ctx: ProjectCtx, Query(q): Query<EditQuery>) -> PageResult {
    project_view(&ctx, FormState::blank(), q.edit.as_deref()).await
}

async fn project_save(ctx: ProjectCtx, WebForm(form): WebForm<TemplateForm>) -> PageResult {
    let back = format!("/projects/{}/release-templates", ctx.who.project.key);
    let owner = Owner::Project(&ctx.who.project, ctx.who.actor());
    let allowed = || ctx.who.require(owner.action());
    match save(&ctx.app, &owner, allowed, &form).await {
        Ok(t) => {
            ctx.done(format!("Saved the template {}.", t.name), &back)
                .await
        }
        Err(e) => {
            let errors = form_errors(e)?;
            project_view(&ctx, FormState::again(&form, errors), None).await
        }
    }
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    require_gradual: Option<String>,
}

async fn project_settings(ctx: ProjectCtx, WebForm(f): WebForm<SettingsForm>) -> PageResult {
    let on = f.require_gradual.is_some();
    let mut tx = begin_write(&ctx.app.db).await?;
    ctx.require(Action::ManageSettings)?;
    let (actor, project) = (ctx.who.actor(), &ctx.who.project);
    let done = templates::set_require_gradual(&mut tx, actor, project, on, ctx.app.now()).await;
    ctx.app.writes.commit_if_ok(tx, done).await?;
    let back = format!("/projects/{}/release-templates", ctx.who.project.key);
    let said = if on {
        "Switching a flag on in a protected environment now goes through a release plan or starts below 100 %."
    } else {
        "Flags may be switched on in protected environments without a release plan."
    };
    ctx.done(said, &back).await
}
