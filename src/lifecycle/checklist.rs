//! Gathers the live evidence of one flag's retirement checklist from the stores (code
//! references, usage, SDK reports, dependencies, change requests) and applies the pure rules of
//! [`super::retirement`]. Nothing is stored: the checklist is always read fresh.

use super::retirement::{self, Check, Facts, LastEvaluation, OpenRequest, RepositoryScan};
use super::store;
use crate::catalog::service::flag_not_found;
use crate::catalog::store as catalog;
use crate::changes::store as changes;
use crate::clock::parse_stamp;
use crate::coderefs;
use crate::db::Conn;
use crate::error::AppResult;
use crate::projects::{store as projects, Project};
use chrono::{DateTime, Utc};

pub async fn checklist(
    conn: &mut Conn,
    project: &Project,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<Vec<Check>> {
    let flag = catalog::flag_by_key(&mut *conn, project.id, key)
        .await?
        .ok_or_else(|| flag_not_found(project, key))?;
    let found = coderefs::flag_references(&mut *conn, project, key).await?;
    let scans: Vec<RepositoryScan> = found
        .repositories
        .into_iter()
        .map(|r| RepositoryScan {
            scanned_at: parse_stamp(&r.scan.scanned_at).unwrap_or(now),
            repository: r.scan.repository,
            commit: r.scan.commit,
            references: r
                .references
                .iter()
                .map(|l| format!("{}:{}", l.file, l.line))
                .collect(),
        })
        .collect();
    let thresholds = store::thresholds(&mut *conn, project.id).await?;
    let last = store::last_evaluations(&mut *conn, project.id, Some(key)).await?;
    let evaluations: Vec<LastEvaluation> = projects::environments(&mut *conn, project.id)
        .await?
        .into_iter()
        .map(|e| LastEvaluation {
            at: last
                .iter()
                .find(|l| l.environment == e.key)
                .and_then(|l| parse_stamp(&l.hour)),
            environment: e.key,
        })
        .collect();
    let sdks: Vec<retirement::SdkReport> = store::sdks_seen(&mut *conn, project.id)
        .await?
        .into_iter()
        .filter_map(|s| {
            Some(retirement::SdkReport {
                last_seen: parse_stamp(&s.last_seen)?,
                environment: s.environment,
                app: s.app_name,
            })
        })
        .collect();
    let dependents = catalog::active_dependents(&mut *conn, project.id, key).await?;
    let requests: Vec<OpenRequest> = changes::open_requests_of_flag(&mut *conn, project.id, key)
        .await?
        .into_iter()
        .map(|r| OpenRequest {
            id: r.id,
            state: r.state,
            title: r.title,
            environment: r.environment_key,
        })
        .collect();
    let facts = Facts {
        created_at: parse_stamp(&flag.created_at).unwrap_or(now),
        scans: &scans,
        quiet_days: thresholds.retirement_quiet_days,
        evaluations: &evaluations,
        sdks: &sdks,
        dependents: &dependents,
        requests: &requests,
    };
    Ok(retirement::checklist(&facts, now))
}
