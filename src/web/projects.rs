//! Project pages: the list, a new project, a project's overview (environments, members) and its
//! settings with its webhooks. Authorization mirrors `api/projects.rs` and `api/webhooks.rs`.

mod lifecycle;
mod overview;
mod settings;
mod webhooks;

use super::{render, render_with, Errors, Layout, PageResult, UserCtx, WebForm};
use crate::authz::Action;
use crate::db::begin_write;
use crate::projects::{service, store, store::ProjectSummary};
use crate::state::AppState;
use askama::Template;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/projects", get(list_projects).post(create_project))
        .route("/projects/new", get(new_project))
        .merge(overview::routes())
        .merge(lifecycle::routes())
        .merge(settings::routes())
        .merge(webhooks::routes())
}

use super::href::project as project_href;

#[derive(Template)]
#[template(path = "projects/list.html")]
struct ListPage {
    layout: Layout,
    projects: Vec<ProjectRow>,
    can_create: bool,
}

struct ProjectRow {
    p: ProjectSummary,
    /// Share of active flags not stale, in percent; None without active flags.
    health: Option<i64>,
    stale: i64,
}

async fn list_projects(ctx: UserCtx) -> PageResult {
    let mut conn = ctx.app.db.acquire().await?;
    let id = ctx.identity();
    let reach = crate::authz::Reach::of(&mut conn, id).await?;
    let summaries = store::summaries(&mut conn).await?;
    let health = service::health(&mut conn).await?;
    let projects = summaries
        .into_iter()
        .filter(|p| reach.contains_key(&p.key))
        .map(|p| {
            let h = health.get(&p.key).copied().unwrap_or_default();
            ProjectRow {
                health: h.percent(),
                stale: h.stale,
                p,
            }
        })
        .collect();
    render(&ListPage {
        layout: Layout::new(&ctx.session, Some(id), "Projects", "projects").await,
        projects,
        can_create: ctx.require(Action::CreateProject).is_ok(),
    })
}

#[derive(Template)]
#[template(path = "projects/new.html")]
struct NewPage {
    layout: Layout,
    form: NewProjectForm,
    errors: Errors,
}

#[derive(Deserialize, Default)]
struct NewProjectForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

async fn new_page(
    ctx: &UserCtx,
    form: NewProjectForm,
    errors: Errors,
    status: StatusCode,
) -> PageResult {
    let page = NewPage {
        layout: Layout::new(
            &ctx.session,
            Some(ctx.identity()),
            "New project",
            "projects",
        )
        .await,
        form,
        errors,
    };
    render_with(&page, status)
}

async fn new_project(ctx: UserCtx) -> PageResult {
    ctx.require(Action::CreateProject)?;
    let form = NewProjectForm::default();
    new_page(&ctx, form, Errors::default(), StatusCode::OK).await
}

async fn create_project(ctx: UserCtx, WebForm(form): WebForm<NewProjectForm>) -> PageResult {
    ctx.require(Action::CreateProject)?;
    let (actor, now) = (&ctx.identity().actor, ctx.app.now());
    let (key, name, description) = (&form.key, &form.name, &form.description);
    let mut tx = begin_write(&ctx.app.db).await?;
    let created = service::create(&mut tx, actor, key, name, description, now).await;
    match Errors::check(ctx.app.writes.commit_if_ok(tx, created).await)? {
        Ok(project) => {
            let msg = format!("Project {} created.", project.key);
            ctx.done(msg, &project_href(&project.key, "")).await
        }
        Err(errors) => new_page(&ctx, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await,
    }
}
