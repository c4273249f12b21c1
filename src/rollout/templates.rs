//! The presets catalog: instance-wide templates (admins edit them) and each project's own
//! (its owners edit them). Every change is audited in its transaction.

use super::store::{self, TemplateRow};
use super::template::{self, Milestone, TemplateDraft};
use crate::audit::{self, Actor, NewEntry};
use crate::authz::Action;
use crate::clock::stamp;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::projects::Project;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateView {
    pub key: String,
    pub name: String,
    pub milestones: Vec<Milestone>,
    /// "instance" or "project".
    pub scope: &'static str,
    pub version: i64,
    pub updated_at: String,
}

impl TemplateView {
    fn from_row(row: TemplateRow) -> TemplateView {
        TemplateView {
            scope: if row.project_id.is_some() {
                "project"
            } else {
                "instance"
            },
            milestones: serde_json::from_str(&row.milestones).unwrap_or_default(),
            key: row.key,
            name: row.name,
            version: row.version,
            updated_at: row.updated_at,
        }
    }

    pub fn is_instance_wide(&self) -> bool {
        self.scope == "instance"
    }
}

/// Whose templates an edit touches (the instance's, or one project's), and who edits them.
pub enum Owner<'a> {
    Instance(&'a Actor),
    Project(&'a Project, &'a Actor),
}

impl Owner<'_> {
    /// What editing these templates asks of the caller: the instance-wide ones are admins', a
    /// project's own are its owners'.
    pub fn action(&self) -> Action {
        Action::ManageReleaseTemplates {
            instance_wide: matches!(self, Owner::Instance(_)),
        }
    }

    fn project(&self) -> Option<&Project> {
        match self {
            Owner::Instance(_) => None,
            Owner::Project(project, _) => Some(project),
        }
    }

    fn actor(&self) -> &Actor {
        match self {
            Owner::Instance(actor) | Owner::Project(_, actor) => actor,
        }
    }
}

/// Only the instance-wide templates (`None`), or only the project's own.
pub async fn own(conn: &mut Conn, project: Option<&Project>) -> AppResult<Vec<TemplateView>> {
    let rows = store::own_templates(conn, project.map(|p| p.id)).await?;
    Ok(rows.into_iter().map(TemplateView::from_row).collect())
}

/// What a project may apply: the instance-wide templates and its own.
pub async fn offered(conn: &mut Conn, project: &Project) -> AppResult<Vec<TemplateView>> {
    let rows = store::templates(conn, Some(project.id)).await?;
    Ok(rows.into_iter().map(TemplateView::from_row).collect())
}

/// The template `key` as a project sees it: its own first, else the instance-wide one.
pub async fn for_project(conn: &mut Conn, project: &Project, key: &str) -> AppResult<TemplateView> {
    if let Some(row) = store::template(&mut *conn, Some(project.id), key).await? {
        return Ok(TemplateView::from_row(row));
    }
    store::template(&mut *conn, None, key)
        .await?
        .map(TemplateView::from_row)
        .ok_or_else(|| {
            AppError::not_found(format!(
                "there is no release template {key:?} in {} or instance-wide",
                project.key
            ))
        })
}

/// One template of the owner (instance-wide or the project's own).
pub async fn get(conn: &mut Conn, project: Option<&Project>, key: &str) -> AppResult<TemplateView> {
    store::template(conn, project.map(|p| p.id), key)
        .await?
        .map(TemplateView::from_row)
        .ok_or_else(|| AppError::not_found(format!("there is no release template {key:?}")))
}

fn entry<'a>(action: audit::Action, project: Option<&'a Project>, key: &str) -> NewEntry<'a> {
    let target = match project {
        Some(p) => format!("release template {}/{key}", p.key),
        None => format!("release template {key} (instance-wide)"),
    };
    let e = NewEntry::new(action, target);
    match project {
        Some(p) => e.project(&p.key),
        None => e,
    }
}

fn to_text<T: Serialize>(v: &T) -> AppResult<String> {
    Ok(serde_json::to_string(v).map_err(anyhow::Error::from)?)
}

/// Creates a template; its key is the owner's to choose once. Like every edit here, the caller
/// asked the policy for [`Owner::action`].
pub async fn create(
    conn: &mut Conn,
    owner: &Owner<'_>,
    draft: TemplateDraft,
    now: DateTime<Utc>,
) -> AppResult<TemplateView> {
    let t = template::validate(draft)?;
    let project = owner.project();
    if store::template(&mut *conn, project.map(|p| p.id), &t.key)
        .await?
        .is_some()
    {
        return Err(AppError::conflict(
            "release-template-key-taken",
            format!("there is already a release template {:?}", t.key),
        ));
    }
    let milestones = to_text(&t.milestones)?;
    store::insert_template(
        &mut *conn,
        project.map(|p| p.id),
        &t.key,
        &t.name,
        &milestones,
        &stamp(now),
    )
    .await?;
    audit::append(
        &mut *conn,
        owner.actor(),
        entry(audit::Action::ReleaseTemplateCreated, project, &t.key)
            .after(json!({ "name": t.name, "milestones": t.milestones })),
        now,
    )
    .await?;
    get(conn, project, &t.key).await
}

/// Replaces a template's name and milestones (plans already started keep theirs).
pub async fn update(
    conn: &mut Conn,
    owner: &Owner<'_>,
    key: &str,
    mut draft: TemplateDraft,
    now: DateTime<Utc>,
) -> AppResult<TemplateView> {
    let project = owner.project();
    let row = store::template(&mut *conn, project.map(|p| p.id), key)
        .await?
        .ok_or_else(|| AppError::not_found(format!("there is no release template {key:?}")))?;
    draft.key = row.key.clone();
    let t = template::validate(draft)?;
    let before = TemplateView::from_row(row.clone());
    store::update_template(
        &mut *conn,
        row.id,
        &t.name,
        &to_text(&t.milestones)?,
        &stamp(now),
    )
    .await?;
    audit::append(
        &mut *conn,
        owner.actor(),
        entry(audit::Action::ReleaseTemplateUpdated, project, key)
            .before(json!({ "name": before.name, "milestones": before.milestones }))
            .after(json!({ "name": t.name, "milestones": t.milestones })),
        now,
    )
    .await?;
    get(conn, project, key).await
}

pub async fn delete(
    conn: &mut Conn,
    owner: &Owner<'_>,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let project = owner.project();
    let row = store::template(&mut *conn, project.map(|p| p.id), key)
        .await?
        .ok_or_else(|| AppError::not_found(format!("there is no release template {key:?}")))?;
    store::delete_template(&mut *conn, row.id).await?;
    let before = TemplateView::from_row(row);
    audit::append(
        &mut *conn,
        owner.actor(),
        entry(audit::Action::ReleaseTemplateDeleted, project, key)
            .before(json!({ "name": before.name, "milestones": before.milestones })),
        now,
    )
    .await?;
    Ok(())
}

/// The project's setting: switching a flag on in a protected environment must go through a
/// release plan or start below 100 %.
pub async fn require_gradual(conn: &mut Conn, project: &Project) -> AppResult<bool> {
    Ok(store::require_gradual(conn, project.id).await?)
}

/// The caller asked the policy for `Action::ManageSettings`.
pub async fn set_require_gradual(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    on: bool,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let before = store::require_gradual(&mut *conn, project.id).await?;
    if before == on {
        return Ok(());
    }
    store::set_require_gradual(&mut *conn, project.id, on).await?;
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(
            audit::Action::ReleaseSettingsSet,
            format!("project {}", project.key),
        )
        .project(&project.key)
        .before(json!({ "gradualStartInProtectedEnvironments": before }))
        .after(json!({ "gradualStartInProtectedEnvironments": on })),
        now,
    )
    .await?;
    Ok(())
}
