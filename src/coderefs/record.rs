//! Writing: a repository's scan in place of its previous one, and the project's URL template.
//! Each change is audited in the caller's transaction.

use super::queries::ScanSummary;
use super::{link, store, upload, Scan};
use crate::audit::{self, Actor, NewEntry};
use crate::db::Conn;
use crate::error::{AppError, AppResult, PathError};
use crate::projects::Project;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Records `scan` as the latest of `repository`, replacing its previous scan. Every reference
/// must name a flag of the project (archived ones too); duplicates count once.
pub async fn record_scan(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    repository: &str,
    scan: Scan,
    now: DateTime<Utc>,
) -> AppResult<ScanSummary> {
    let repository =
        upload::check_repository(repository).map_err(|m| AppError::invalid("repository", m))?;
    let ids: HashMap<String, i64> = store::flag_ids(&mut *conn, project.id)
        .await?
        .into_iter()
        .collect();
    let mut unknown = Vec::new();
    let mut rows: Vec<store::NewReference> = Vec::with_capacity(scan.references.len());
    for (i, r) in scan.references.iter().enumerate() {
        match ids.get(&r.flag) {
            Some(id) => rows.push((*id, &r.file, r.line, &r.snippet)),
            None if unknown.len() < 20 => unknown.push(PathError {
                field: format!("references[{i}].flag"),
                message: format!(
                    "there is no flag {:?} in the project {}",
                    r.flag, project.key
                ),
            }),
            None => {}
        }
    }
    if !unknown.is_empty() {
        return Err(AppError::InvalidPaths(unknown));
    }
    rows.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    rows.dedup_by(|a, b| (a.0, a.1, a.2) == (b.0, b.1, b.2));

    let before = store::scan_of_repository(&mut *conn, project.id, &repository).await?;
    let new = store::NewScan {
        project_id: project.id,
        repository: &repository,
        commit: scan.commit.as_deref(),
        branch: scan.branch.as_deref(),
        scanned_at: scan.scanned_at,
        recorded_by: &actor.label,
    };
    let scan_id = store::replace_scan(&mut *conn, &new, now).await?;
    store::insert_references(&mut *conn, scan_id, &rows).await?;
    let after = store::scan_of_repository(&mut *conn, project.id, &repository)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the scan just recorded is missing"))?;
    let summary = ScanSummary::from(after);
    let entry = NewEntry::new(
        audit::Action::CodeReferencesScanned,
        format!("repository {repository}"),
    )
    .project(&project.key)
    .before(before.map(ScanSummary::from))
    .after(&summary);
    audit::append(&mut *conn, actor, entry, now).await?;
    Ok(summary)
}

/// Sets (or, with an empty string, removes) the project's repository URL template; audited
/// as `project.code-url-template-set` when it changes.
pub async fn set_url_template(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    raw: &str,
    now: DateTime<Utc>,
) -> AppResult<Option<String>> {
    let template =
        link::check_template(raw).map_err(|m| AppError::invalid("codeUrlTemplate", m))?;
    let before = store::url_template(&mut *conn, project.id).await?;
    if before == template {
        return Ok(template);
    }
    store::set_url_template(&mut *conn, project.id, template.as_deref()).await?;
    let entry = NewEntry::new(
        audit::Action::ProjectCodeUrlTemplateSet,
        format!("project {}", project.key),
    )
    .project(&project.key)
    .before(serde_json::json!({ "codeUrlTemplate": before }))
    .after(serde_json::json!({ "codeUrlTemplate": template }));
    audit::append(&mut *conn, actor, entry, now).await?;
    Ok(template)
}
