//! The flag page's Code tab: where the flag's key appears in source code, per repository that
//! reported (its commit, branch and scan time), each place as file:line with its snippet and,
//! when the project has a repository URL template, a link. The data is
//! `coderefs::flag_references`, as in the API.

use super::{flag_href, short_time, FlagPath};
use crate::authz::{Action, ProjectAccess};
use crate::catalog::store as catalog;
use crate::coderefs::{self, FlagReferences, RepositoryReferences};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{render, Layout, PageResult};
use askama::Template;
use axum::extract::{Path, State};
use axum_htmx::HxRequest;
use tower_sessions::Session;

pub struct CodeView {
    pub total: usize,
    pub repositories: Vec<RepoView>,
    /// The scan command to run, for the empty state.
    pub command: String,
    pub settings_href: String,
    /// Links are off: say where to turn them on, to those who may.
    pub offer_template: bool,
}

pub struct RepoView {
    pub repository: String,
    pub commit: String,
    pub commit_short: String,
    pub branch: String,
    pub scanned_at: String,
    pub refs: Vec<RefView>,
}

pub struct RefView {
    pub file: String,
    pub line: i64,
    pub snippet: String,
    pub url: Option<String>,
}

#[derive(Template)]
#[template(path = "flags/_code.html")]
struct CodePartial {
    code: CodeView,
}

#[derive(Template)]
#[template(path = "flags/code.html")]
struct CodePage {
    layout: Layout,
    project_key: String,
    href: String,
    key: String,
    name: String,
    flag_type: String,
    code: CodeView,
}

pub(super) async fn show_code(
    State(app): State<AppState>,
    session: Session,
    access: ProjectAccess,
    HxRequest(hx): HxRequest,
    Path(p): Path<FlagPath>,
) -> PageResult {
    access.require(Action::ViewProject)?;
    let mut conn = app.db.acquire().await?;
    let project = &access.project;
    let flag = catalog::flag_by_key(&mut conn, project.id, &p.key)
        .await?
        .ok_or_else(|| {
            AppError::not_found(format!(
                "there is no flag {:?} in the project {}",
                p.key, project.key
            ))
        })?;
    let found = coderefs::flag_references(&mut conn, project, &p.key).await?;
    let has_template = coderefs::store::url_template(&mut conn, project.id)
        .await?
        .is_some();
    let code = code_view(&access, found, has_template);
    if hx {
        return render(&CodePartial { code });
    }
    let layout = Layout::new(&session, Some(&access.identity), p.key.clone(), "flags").await;
    render(&CodePage {
        layout,
        project_key: project.key.clone(),
        href: flag_href(&project.key, &flag.key),
        name: flag.name,
        flag_type: flag.flag_type,
        key: flag.key,
        code,
    })
}

fn code_view(access: &ProjectAccess, found: FlagReferences, has_template: bool) -> CodeView {
    CodeView {
        total: found.references,
        repositories: found.repositories.into_iter().map(repo_view).collect(),
        command: format!("switchyard scan --project {} .", access.project.key),
        settings_href: format!("/projects/{}/settings#code-title", access.project.key),
        offer_template: !has_template && access.can(Action::ManageSettings),
    }
}

fn repo_view(r: RepositoryReferences) -> RepoView {
    let commit = r.scan.commit.unwrap_or_default();
    RepoView {
        repository: r.scan.repository,
        commit_short: commit.chars().take(12).collect(),
        commit,
        branch: r.scan.branch.unwrap_or_default(),
        scanned_at: short_time(&r.scan.scanned_at),
        refs: r
            .references
            .into_iter()
            .map(|l| RefView {
                file: l.file,
                line: l.line,
                snippet: l.snippet,
                url: l.url,
            })
            .collect(),
    }
}
