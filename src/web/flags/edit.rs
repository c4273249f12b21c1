//! Creating a flag and editing its metadata.

use super::{flag_href, render_with, FlagPath};
use crate::app::AppState;
use crate::authz::{Action, ProjectAccess};
use crate::catalog::service::{self, FlagDetail, FlagInput, FlagPatch};
use crate::catalog::{flag::split_tags, FlagType, ValueType};
use crate::db::begin_write;
use crate::projects::Project;
use crate::web::{see_other, Errors, Flash, Layout, PageError, PageResult, WebForm};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use sqlx::SqliteConnection;
use tower_sessions::Session;
// ---------- Create and edit ----------

#[derive(Deserialize, Default)]
pub(super) struct FlagForm {
    #[serde(default)]
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
    owner: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    docs: String,
}

impl FlagForm {
    fn links(&self) -> Vec<(String, String)> {
        vec![
            ("ticket".to_string(), self.ticket.clone()),
            ("docs".to_string(), self.docs.clone()),
        ]
    }

    fn from_detail(d: &FlagDetail) -> Self {
        let link = |kind: &str| {
            d.links
                .iter()
                .find(|l| l.kind == kind)
                .map(|l| l.url.clone())
                .unwrap_or_default()
        };
        FlagForm {
            key: d.flag.key.clone(),
            name: d.flag.name.clone(),
            description: d.flag.description.clone(),
            flag_type: d.flag.flag_type.clone(),
            value_type: d.flag.value_type.clone(),
            owner: d.flag.owner.clone().unwrap_or_default(),
            tags: d.tags.join(", "),
            ticket: link("ticket"),
            docs: link("docs"),
        }
    }
}

/// A flag type as the form's select shows it.
pub struct TypeChoice {
    value: &'static str,
    label: String,
}

#[derive(Template)]
#[template(path = "flags/form.html")]
pub(super) struct FlagFormPage {
    layout: Layout,
    project_key: String,
    key_pattern: String,
    key_example: String,
    /// Editing an existing flag (no key or value type fields) or creating one.
    editing: bool,
    form: FlagForm,
    types: Vec<TypeChoice>,
    value_types: Vec<&'static str>,
    errors: Errors,
}

async fn type_choices(
    conn: &mut SqliteConnection,
    project: &Project,
) -> Result<Vec<TypeChoice>, PageError> {
    let mut out = Vec::new();
    for t in FlagType::ALL {
        let days = service::lifetime_days(&mut *conn, project, t.as_str()).await?;
        let life = days.map_or("permanent".to_string(), |d| format!("{d} days"));
        out.push(TypeChoice {
            value: t.as_str(),
            label: format!("{} ({life})", t.as_str()),
        });
    }
    Ok(out)
}

async fn form_page(
    app: &AppState,
    session: &Session,
    access: &ProjectAccess,
    editing: bool,
    form: FlagForm,
    errors: Errors,
) -> PageResult {
    let mut conn = app.db.acquire().await?;
    let p = &access.project;
    let title = if editing {
        format!("Edit {}", form.key)
    } else {
        "New flag".to_string()
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = FlagFormPage {
        layout: Layout::new(session, Some(&access.identity), title, "flags").await,
        project_key: p.key.clone(),
        key_pattern: p.key_pattern.clone().unwrap_or_default(),
        key_example: p.key_example.clone().unwrap_or_default(),
        editing,
        form,
        types: type_choices(&mut conn, p).await?,
        value_types: ValueType::ALL.iter().map(|v| v.as_str()).collect(),
        errors,
    };
    render_with(&page, status)
}

pub(super) async fn new_flag(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
) -> PageResult {
    access.require(Action::CreateFlag)?;
    let form = FlagForm {
        flag_type: "release".into(),
        value_type: "boolean".into(),
        owner: access.identity.user.email.clone(),
        ..Default::default()
    };
    form_page(&app, &session, &access, false, form, Errors::default()).await
}

pub(super) async fn create_flag(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
    WebForm(form): WebForm<FlagForm>,
) -> PageResult {
    access.require(Action::CreateFlag)?;
    let input = FlagInput {
        key: form.key.clone(),
        name: form.name.clone(),
        description: form.description.clone(),
        flag_type: form.flag_type.clone(),
        value_type: form.value_type.clone(),
        owner: form.owner.clone(),
        tags: split_tags(&form.tags),
        links: form.links(),
    };
    let mut tx = begin_write(&app.db).await?;
    match service::create_flag(&mut tx, access.actor(), &access.project, input, app.now()).await {
        Ok(d) => {
            tx.commit().await?;
            Flash::set(&session, "success", format!("Flag {} created.", d.flag.key)).await;
            Ok(see_other(&flag_href(&access.project.key, &d.flag.key)))
        }
        Err(e) => {
            drop(tx);
            form_page(&app, &session, &access, false, form, Errors::from_app(e)?).await
        }
    }
}

pub(super) async fn edit_flag(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
    Path(p): Path<FlagPath>,
) -> PageResult {
    access.require(Action::EditFlag)?;
    let detail = {
        let mut conn = app.db.acquire().await?;
        service::detail(&mut conn, &access.project, &p.key, app.now()).await?
    };
    let form = FlagForm::from_detail(&detail);
    form_page(&app, &session, &access, true, form, Errors::default()).await
}

pub(super) async fn update_flag(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
    Path(p): Path<FlagPath>,
    WebForm(mut form): WebForm<FlagForm>,
) -> PageResult {
    access.require(Action::EditFlag)?;
    form.key = p.key.clone();
    let patch = FlagPatch {
        name: Some(form.name.clone()),
        description: Some(form.description.clone()),
        flag_type: Some(form.flag_type.clone()),
        owner: Some(form.owner.clone()),
        tags: Some(split_tags(&form.tags)),
        links: Some(form.links()),
    };
    let mut tx = begin_write(&app.db).await?;
    let (actor, project, now) = (access.actor(), &access.project, app.now());
    match service::update_flag(&mut tx, actor, project, &p.key, patch, now).await {
        Ok(_) => {
            tx.commit().await?;
            Flash::set(&session, "success", "Flag saved.").await;
            Ok(see_other(&flag_href(&project.key, &p.key)))
        }
        Err(e) => {
            drop(tx);
            form_page(&app, &session, &access, true, form, Errors::from_app(e)?).await
        }
    }
}
