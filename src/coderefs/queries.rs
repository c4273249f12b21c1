//! Reading: the repositories that reported and their latest scans, one repository's scan, one
//! flag's references, and the evidence of the `no-code-references` stale rule.

use super::{link, store};
use crate::catalog::store as catalog;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::projects::Project;
use serde::Serialize;

/// A repository's latest scan, counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanSummary {
    pub repository: String,
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub scanned_at: String,
    pub recorded_at: String,
    pub recorded_by: String,
    pub references: i64,
    pub flags: i64,
    pub files: i64,
}

impl From<store::ScanRow> for ScanSummary {
    fn from(r: store::ScanRow) -> Self {
        ScanSummary {
            repository: r.repository,
            commit: r.commit_id,
            branch: r.branch,
            scanned_at: r.scanned_at,
            recorded_at: r.recorded_at,
            recorded_by: r.recorded_by,
            references: r.references,
            flags: r.flags,
            files: r.files,
        }
    }
}

/// Which scan said so: the evidence behind every claim about references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanEvidence {
    pub repository: String,
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub scanned_at: String,
}

impl From<&store::ScanRow> for ScanEvidence {
    fn from(r: &store::ScanRow) -> Self {
        ScanEvidence {
            repository: r.repository.clone(),
            commit: r.commit_id.clone(),
            branch: r.branch.clone(),
            scanned_at: r.scanned_at.clone(),
        }
    }
}

/// One place a key was found; `url` when the project has a URL template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Located {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
    pub file: String,
    pub line: i64,
    pub snippet: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryReferences {
    #[serde(flatten)]
    pub scan: ScanEvidence,
    pub references: Vec<Located>,
}

/// A flag's references in every repository that reported, those that found none included.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlagReferences {
    pub flag: String,
    pub references: usize,
    pub repositories: Vec<RepositoryReferences>,
}

pub async fn repositories(conn: &mut Conn, project: &Project) -> AppResult<Vec<ScanSummary>> {
    let rows = store::scans(conn, project.id).await?;
    Ok(rows.into_iter().map(ScanSummary::from).collect())
}

/// One repository's latest scan with every reference it found.
pub async fn repository_scan(
    conn: &mut Conn,
    project: &Project,
    repository: &str,
) -> AppResult<(ScanSummary, Vec<Located>)> {
    let Some(scan) = store::scan_of_repository(&mut *conn, project.id, repository).await? else {
        return Err(AppError::not_found(format!(
            "no scan of the repository {repository:?} was recorded in the project {}",
            project.key
        )));
    };
    let template = store::url_template(&mut *conn, project.id).await?;
    let refs = store::references_of_scan(&mut *conn, scan.id).await?;
    let located = refs
        .into_iter()
        .map(|r| locate(template.as_deref(), &scan, r, true))
        .collect();
    Ok((ScanSummary::from(scan), located))
}

pub async fn flag_references(
    conn: &mut Conn,
    project: &Project,
    key: &str,
) -> AppResult<FlagReferences> {
    let Some(flag) = catalog::flag_by_key(&mut *conn, project.id, key).await? else {
        return Err(AppError::not_found(format!(
            "there is no flag {key:?} in the project {}",
            project.key
        )));
    };
    let scans = store::scans(&mut *conn, project.id).await?;
    let template = store::url_template(&mut *conn, project.id).await?;
    let mut refs = store::references_of_flag(&mut *conn, flag.id).await?;
    let total = refs.len();
    let repositories = scans
        .iter()
        .map(|scan| {
            let mine: Vec<store::ReferenceRow>;
            (mine, refs) = refs.drain(..).partition(|r| r.scan_id == scan.id);
            RepositoryReferences {
                scan: ScanEvidence::from(scan),
                references: mine
                    .into_iter()
                    .map(|r| locate(template.as_deref(), scan, r, false))
                    .collect(),
            }
        })
        .collect();
    Ok(FlagReferences {
        flag: flag.key,
        references: total,
        repositories,
    })
}

fn locate(
    template: Option<&str>,
    scan: &store::ScanRow,
    r: store::ReferenceRow,
    with_flag: bool,
) -> Located {
    let url = template.and_then(|t| {
        link::link(
            t,
            &scan.repository,
            scan.commit_id.as_deref(),
            scan.branch.as_deref(),
            &r.file,
            r.line,
        )
    });
    Located {
        flag: with_flag.then_some(r.flag),
        file: r.file,
        line: r.line,
        snippet: r.snippet,
        url,
    }
}

/// A flag no latest scan found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unreferenced {
    #[serde(skip)]
    pub id: i64,
    pub key: String,
    pub archived: bool,
}

/// The evidence of the `no-code-references` rule for a whole project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NoReferences {
    /// The latest scan of every repository that reported: all of them found nothing of `flags`.
    pub scans: Vec<ScanEvidence>,
    /// Flags (archived ones marked) that none of `scans` references and that existed before
    /// the oldest of them was made, so every scan looked for them.
    pub flags: Vec<Unreferenced>,
}

impl NoReferences {
    pub fn contains(&self, key: &str) -> bool {
        self.flags.iter().any(|f| f.key == key)
    }
}

/// Which flags of the project have no references in the latest scan of every repository
/// that reported; None while no repository has reported (no scan is no evidence).
pub async fn unreferenced(conn: &mut Conn, project_id: i64) -> sqlx::Result<Option<NoReferences>> {
    let scans = store::scans(&mut *conn, project_id).await?;
    if scans.is_empty() {
        return Ok(None);
    }
    let flags = store::unreferenced_flags(&mut *conn, project_id)
        .await?
        .into_iter()
        .map(|r| Unreferenced {
            id: r.id,
            key: r.key,
            archived: r.archived,
        })
        .collect();
    Ok(Some(NoReferences {
        scans: scans.iter().map(ScanEvidence::from).collect(),
        flags,
    }))
}
