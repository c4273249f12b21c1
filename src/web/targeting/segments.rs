//! The project's segments: list, create, edit constraints, delete (refused while a strategy uses
//! the segment). Same form mechanics as the Targeting tab: buttons post the form back.

use super::form::{self, ConstraintForm, FormErrors, OPERATORS};
use crate::authz::{Action, ProjectAccess};
use crate::changes::service::{self as changes, Outcome};
use crate::changes::Proposal;
use crate::db::begin_write;
use crate::error::AppError;
use crate::http::commands;
use crate::state::AppState;
use crate::targeting::service::{self as targeting, SegmentDraft, SegmentView};
use crate::web::{render, see_other, Flash, Layout, PageError, PageResult, WebForm};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use tower_sessions::Session;

#[derive(Deserialize)]
pub(super) struct ProjectPath {
    #[allow(dead_code)]
    project: String,
}

#[derive(Deserialize)]
pub(super) struct SegmentPath {
    #[allow(dead_code)]
    project: String,
    id: i64,
}

pub struct SegmentRow {
    id: i64,
    name: String,
    description: String,
    rules: Vec<String>,
    used_by: Vec<String>,
}

fn uses(s: &SegmentView) -> Vec<String> {
    s.used_by
        .iter()
        .map(|u| format!("{} ({})", u.flag, u.environment))
        .collect()
}

#[derive(Template)]
#[template(path = "segments/list.html")]
struct ListPage {
    layout: Layout,
    key: String,
    tab: &'static str,
    can_manage: bool,
    can_edit: bool,
    new_href: String,
    segments: Vec<SegmentRow>,
}

pub(super) async fn list_segments(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
    Path(_): Path<ProjectPath>,
) -> PageResult {
    let mut conn = app.db.acquire().await?;
    let segments = targeting::segments(&mut conn, &access.project)
        .await?
        .into_iter()
        .map(|s| SegmentRow {
            id: s.id,
            rules: s
                .constraint_list()
                .iter()
                .map(form::describe_constraint)
                .collect(),
            used_by: uses(&s),
            name: s.name,
            description: s.description,
        })
        .collect();
    let title = format!("Segments of {}", access.project.key);
    let page = ListPage {
        layout: Layout::new(&session, Some(&access.identity), title, "projects").await,
        key: access.project.key.clone(),
        tab: "segments",
        can_manage: access.can(Action::ManageMembers),
        can_edit: access.can(Action::EditFlag),
        new_href: format!("/projects/{}/segments/new", access.project.key),
        segments,
    };
    render(&page)
}

#[derive(Template)]
#[template(path = "segments/form.html")]
struct FormPage {
    layout: Layout,
    key: String,
    tab: &'static str,
    can_manage: bool,
    /// The segment being edited, or `None` for a new one.
    id: Option<i64>,
    name: String,
    description: String,
    constraints: Vec<ConstraintForm>,
    errors: FormErrors,
    unplaced: Vec<String>,
    operators: Vec<&'static str>,
    used_by: Vec<String>,
    can_save: bool,
}

struct Typed {
    name: String,
    description: String,
    constraints: Vec<ConstraintForm>,
}

async fn form_page(
    session: &Session,
    access: &ProjectAccess,
    id: Option<i64>,
    typed: Typed,
    (used_by, can_save): (Vec<String>, bool),
    errors: FormErrors,
) -> PageResult {
    let title = match id {
        Some(_) => format!("Segment {}", typed.name),
        None => "New segment".to_string(),
    };
    let invalid = !errors.is_empty();
    let page = FormPage {
        layout: Layout::new(session, Some(&access.identity), title, "projects").await,
        key: access.project.key.clone(),
        tab: "segments",
        can_manage: access.can(Action::ManageMembers),
        id,
        name: typed.name,
        description: typed.description,
        constraints: typed.constraints,
        unplaced: errors.unplaced(),
        errors,
        operators: OPERATORS.to_vec(),
        used_by,
        can_save,
    };
    let mut res = render(&page)?;
    if invalid {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

pub(super) async fn new_segment(
    session: Session,
    access: ProjectAccess,
    Path(_): Path<ProjectPath>,
) -> PageResult {
    access.require(Action::EditFlag)?;
    let typed = Typed {
        name: String::new(),
        description: String::new(),
        constraints: Vec::new(),
    };
    form_page(
        &session,
        &access,
        None,
        typed,
        (Vec::new(), true),
        FormErrors::default(),
    )
    .await
}

/// Editing a segment a protected environment uses changes that environment: saving proposes
/// the change (`changes::service::propose` stages it into a change request).
fn may_change(access: &ProjectAccess, s: &SegmentView) -> bool {
    access.can(Action::EditFlag)
        && (!s.used_by.iter().any(|u| u.protected) || access.can(Action::ProposeChange))
}

fn require_change(access: &ProjectAccess, s: &SegmentView) -> Result<(), PageError> {
    access.require(Action::EditFlag)?;
    if s.used_by.iter().any(|u| u.protected) {
        access.require(Action::ProposeChange)?;
    }
    Ok(())
}

pub(super) async fn edit_segment(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
    Path(p): Path<SegmentPath>,
) -> PageResult {
    let mut conn = app.db.acquire().await?;
    let s = targeting::segment(&mut conn, &access.project, p.id).await?;
    let mut constraints: Vec<ConstraintForm> = s
        .constraint_list()
        .iter()
        .map(form::constraint_form)
        .collect();
    form::renumber_constraints(&mut constraints, None);
    let typed = Typed {
        name: s.name.clone(),
        description: s.description.clone(),
        constraints,
    };
    let extra = (uses(&s), may_change(&access, &s));
    form_page(
        &session,
        &access,
        Some(p.id),
        typed,
        extra,
        FormErrors::default(),
    )
    .await
}

fn field(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// What was typed, with an add/remove button applied; `true` when "Save" was pressed.
fn typed_from(pairs: &[(String, String)]) -> (Typed, bool) {
    let mut constraints = form::parse_constraints(pairs);
    let action = field(pairs, "action");
    match action.split_once(':') {
        _ if action == "add-constraint" => constraints.push(ConstraintForm {
            operator: "IN".into(),
            ..Default::default()
        }),
        Some(("remove-constraint", j)) => {
            if let Ok(j) = j.parse::<usize>() {
                if j < constraints.len() {
                    constraints.remove(j);
                }
            }
        }
        _ => {}
    }
    form::renumber_constraints(&mut constraints, None);
    let typed = Typed {
        name: field(pairs, "name"),
        description: field(pairs, "description"),
        constraints,
    };
    (typed, action == "save")
}

fn draft(typed: &Typed) -> Result<SegmentDraft, FormErrors> {
    Ok(SegmentDraft {
        name: typed.name.clone(),
        description: typed.description.clone(),
        constraints: form::constraints_of(&typed.constraints).map_err(FormErrors)?,
    })
}

fn form_errors(e: AppError) -> Result<FormErrors, PageError> {
    match e {
        AppError::InvalidPaths(paths) => Ok(FormErrors::from_paths(paths)),
        other => Err(PageError(other)),
    }
}

pub(super) async fn create_segment(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
    Path(_): Path<ProjectPath>,
    WebForm(pairs): WebForm<Vec<(String, String)>>,
) -> PageResult {
    access.require(Action::EditFlag)?;
    let (typed, save) = typed_from(&pairs);
    let mut errors = FormErrors::default();
    if save {
        match draft(&typed) {
            Err(e) => errors = e,
            Ok(d) => {
                let mut tx = begin_write(&app.db).await?;
                let (actor, project, now) = (access.actor(), &access.project, app.now());
                match targeting::create_segment(&mut tx, actor, project, d, now).await {
                    Ok(s) => {
                        app.writes.commit(tx).await?;
                        Flash::set(&session, "success", format!("Segment {} created.", s.name))
                            .await;
                        return Ok(see_other(&format!("/projects/{}/segments", project.key)));
                    }
                    Err(e) => errors = form_errors(e)?,
                }
            }
        }
    }
    form_page(&session, &access, None, typed, (Vec::new(), true), errors).await
}

pub(super) async fn update_segment(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
    Path(p): Path<SegmentPath>,
    WebForm(pairs): WebForm<Vec<(String, String)>>,
) -> PageResult {
    let mut tx = begin_write(&app.db).await?;
    let before = targeting::segment(&mut tx, &access.project, p.id).await?;
    require_change(&access, &before)?;
    let (typed, save) = typed_from(&pairs);
    let mut errors = FormErrors::default();
    if save {
        match draft(&typed) {
            Err(e) => errors = e,
            Ok(d) => {
                let project = &access.project;
                let change = changes::Change {
                    flag_key: "",
                    env: None,
                    proposal: Proposal::Segment {
                        id: p.id,
                        segment: d,
                    },
                };
                match commands::propose(&mut tx, &access, change, app.now()).await {
                    Ok(Outcome::Staged(cr)) => {
                        app.writes.commit(tx).await?;
                        let message = format!(
                            "Added to your draft change request #{}: the segment {} stays as it \
                             is until the request is approved and applied.",
                            cr.id, before.name
                        );
                        Flash::set(&session, "success", message).await;
                        return Ok(see_other(&crate::web::href::change_request(cr.id)));
                    }
                    Ok(Outcome::Applied(_)) => {
                        app.writes.commit(tx).await?;
                        let message = format!("Segment {} saved.", typed.name.trim());
                        Flash::set(&session, "success", message).await;
                        return Ok(see_other(&format!("/projects/{}/segments", project.key)));
                    }
                    Err(e) => errors = form_errors(e)?,
                }
            }
        }
    }
    drop(tx);
    let extra = (uses(&before), true);
    form_page(&session, &access, Some(p.id), typed, extra, errors).await
}

pub(super) async fn delete_segment(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
    Path(p): Path<SegmentPath>,
) -> PageResult {
    let mut tx = begin_write(&app.db).await?;
    let before = targeting::segment(&mut tx, &access.project, p.id).await?;
    // Deleting is refused while any strategy uses the segment, so it never changes targeting.
    access.require(Action::EditFlag)?;
    let (actor, project, now) = (access.actor(), &access.project, app.now());
    match targeting::delete_segment(&mut tx, actor, project, p.id, now).await {
        Ok(()) => {
            app.writes.commit(tx).await?;
            let message = format!("Segment {} deleted.", before.name);
            Flash::set(&session, "success", message).await;
            Ok(see_other(&format!("/projects/{}/segments", project.key)))
        }
        Err(AppError::Conflict { message, .. }) => {
            drop(tx);
            Flash::set(&session, "error", crate::web::sentence(&message)).await;
            Ok(see_other(&format!(
                "/projects/{}/segments/{}",
                project.key, p.id
            )))
        }
        Err(e) => Err(PageError(e)),
    }
}
