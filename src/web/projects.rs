//! Project pages: the list, a new project, a project's overview (environments, members) and its
//! settings. Authorization mirrors `api/projects.rs`.

mod overview;
mod settings;

use super::{render, see_other, Errors, Flash, Layout, PageError, PageResult, WebForm};
use crate::app::AppState;
use crate::auth::extract::CurrentUser;
use crate::authz::{allows, Action, Principal};
use crate::db::begin_write;
use crate::error::AppError;
use crate::projects::{service, store, store::ProjectSummary};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/projects", get(list_projects).post(create_project))
        .route("/projects/new", get(new_project))
        .merge(overview::routes())
        .merge(settings::routes())
}

/// A page with a status other than 200 (422 when a form comes back with errors).
fn render_with(t: &impl Template, status: StatusCode) -> PageResult {
    let mut res = render(t)?;
    *res.status_mut() = status;
    Ok(res)
}

#[derive(Template)]
#[template(path = "projects/list.html")]
struct ListPage {
    layout: Layout,
    projects: Vec<ProjectSummary>,
    can_create: bool,
}

async fn list_projects(
    State(app): State<AppState>,
    session: Session,
    user: CurrentUser,
) -> PageResult {
    let mut conn = app.db.acquire().await?;
    let id = &user.0;
    let projects = store::summaries(&mut conn, Some(id.user.id), id.user.is_admin).await?;
    render(&ListPage {
        layout: Layout::new(&session, Some(id), "Projects", "projects").await,
        projects,
        can_create: require_creator(&user).is_ok(),
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

fn require_creator(user: &CurrentUser) -> Result<(), PageError> {
    let principal = Principal {
        is_admin: user.0.user.is_admin,
        role: None,
    };
    allows(principal, Action::CreateProject).map_err(|d| PageError(AppError::forbidden(d.0)))
}

async fn new_project(session: Session, user: CurrentUser) -> PageResult {
    require_creator(&user)?;
    render(&NewPage {
        layout: Layout::new(&session, Some(&user.0), "New project", "projects").await,
        form: NewProjectForm::default(),
        errors: Errors::default(),
    })
}

async fn create_project(
    State(app): State<AppState>,
    session: Session,
    user: CurrentUser,
    WebForm(form): WebForm<NewProjectForm>,
) -> PageResult {
    require_creator(&user)?;
    let mut tx = begin_write(&app.db).await?;
    let created = service::create(
        &mut tx,
        &user.0.actor,
        &form.key,
        &form.name,
        &form.description,
        app.now(),
    )
    .await;
    match created {
        Ok(project) => {
            tx.commit().await?;
            Flash::set(
                &session,
                "success",
                format!("Project {} created.", project.key),
            )
            .await;
            Ok(see_other(&format!("/projects/{}", project.key)))
        }
        Err(e) => {
            let errors = Errors::from_app(e)?;
            let page = NewPage {
                layout: Layout::new(&session, Some(&user.0), "New project", "projects").await,
                form,
                errors,
            };
            render_with(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}
