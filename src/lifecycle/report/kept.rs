//! Kept reports: one per project and ISO week. Keeping one is audited and announced to webhooks
//! (`report.stale`) in the same transaction; the unique (project, week) key makes a second
//! attempt, after a restart or from another replica, change nothing.

use super::{store, StaleReport, State};
use crate::audit::{self, Action, Actor, NewEntry};
use crate::db::{Db, Writes};
use crate::error::{AppError, AppResult};
use crate::projects::Project;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

/// A kept report as lists show it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptSummary {
    pub id: i64,
    pub project: String,
    pub project_name: String,
    pub week: String,
    pub generated_at: String,
    pub flags: i64,
    pub stale: i64,
    pub health_percent: Option<i64>,
}

impl From<store::KeptRow> for KeptSummary {
    fn from(r: store::KeptRow) -> Self {
        KeptSummary {
            id: r.id,
            project: r.project_key,
            project_name: r.project_name,
            week: r.week,
            generated_at: r.generated_at,
            flags: r.flags,
            stale: r.stale,
            health_percent: r.health_percent,
        }
    }
}

/// The chat summary: a headline and one line per owner with stale flags.
fn summary(r: &StaleReport) -> (String, Vec<String>) {
    let t = &r.totals;
    let health = t
        .health_percent
        .map_or(String::new(), |h| format!(", health {h} %"));
    let headline = format!(
        "week {}, {} stale of {} flags{health}",
        r.week, t.stale, t.flags
    );
    let lines = r
        .owners
        .iter()
        .filter_map(|g| {
            let stale: Vec<&str> = g
                .flags
                .iter()
                .filter(|f| f.state == State::Stale)
                .map(|f| f.key.as_str())
                .collect();
            if stale.is_empty() {
                return None;
            }
            let shown: Vec<&str> = stale.iter().copied().take(5).collect();
            let more = stale.len().saturating_sub(shown.len());
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            Some(format!(
                "{}: {} stale ({}{more})",
                g.owner.label(),
                stale.len(),
                shown.join(", ")
            ))
        })
        .collect();
    (headline, lines)
}

/// Keeps `week`'s report of the project, computed now; None when it is kept already. The work
/// happens outside the write lock; only keeping it takes the lock.
pub async fn generate(
    writes: &Writes,
    project: &Project,
    week: &str,
    now: DateTime<Utc>,
) -> AppResult<Option<i64>> {
    let mut report = {
        let mut conn = writes.db.acquire().await?;
        if store::week_kept(&mut conn, project.id, week).await? {
            return Ok(None);
        }
        super::compute(&mut conn, project, now, week, Some(week)).await?
    };
    // Serialised once: the stored body, and (with its id) the webhook's JSON.
    let mut value = serde_json::to_value(&report).map_err(anyhow::Error::from)?;
    let body = value.to_string();
    let stale_keys = json!(report.stale_keys()).to_string();
    let t = &report.totals;
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let mut tx = writes.begin().await?;
    let new = store::NewKept {
        project_id: project.id,
        week,
        generated_at: &report.generated_at,
        flags: count(t.flags),
        stale: count(t.stale),
        health_percent: t.health_percent,
        body: &body,
        stale_keys: &stale_keys,
    };
    let Some(id) = store::insert(&mut tx, &new).await? else {
        return Ok(None); // another process kept it meanwhile
    };
    let entry = NewEntry::new(
        Action::ReportGenerated,
        format!("report #{id} of {}", project.key),
    )
    .project(&project.key)
    .after(json!({
        "report": id, "week": week, "flags": t.flags, "stale": t.stale,
        "healthPercent": t.health_percent,
    }));
    audit::append(&mut tx, &Actor::system("reports"), entry, now).await?;
    report.id = Some(id);
    value["id"] = json!(id);
    let (headline, lines) = summary(&report);
    let body = webhook_body(value, body.len());
    crate::notify::report(&mut tx, project, body, headline, lines, report.href(), now).await?;
    writes.commit(tx).await?;
    Ok(Some(id))
}

/// The largest report a generic webhook body carries whole; receivers (and their proxies) often
/// refuse bodies of several megabytes, which a project with thousands of stale flags reaches.
const WEBHOOK_REPORT_LIMIT: usize = 1024 * 1024;

/// The report as the `report.stale` webhook carries it: whole, or beyond the limit its header
/// and totals with `"truncated": true` (the link and the API give the rest).
fn webhook_body(mut report: serde_json::Value, size: usize) -> serde_json::Value {
    if size <= WEBHOOK_REPORT_LIMIT {
        return report;
    }
    if let Some(o) = report.as_object_mut() {
        o.retain(|k, _| {
            matches!(
                k.as_str(),
                "id" | "project" | "week" | "generatedAt" | "totals"
            )
        });
        o.insert("truncated".into(), json!(true));
    }
    report
}

/// Kept reports, newest first, of the projects given (by id; every project when None).
pub async fn list(db: &Db, projects: Option<&[i64]>, limit: i64) -> AppResult<Vec<KeptSummary>> {
    let mut conn = db.acquire().await?;
    Ok(store::list(&mut conn, projects, limit)
        .await?
        .into_iter()
        .map(KeptSummary::from)
        .collect())
}

/// One kept report, when it exists and `visible` says its project may be seen; otherwise the
/// same not-found, so ids of other projects' reports can't be probed.
pub async fn get(
    db: &Db,
    id: i64,
    visible: impl Fn(i64) -> bool,
) -> AppResult<(KeptSummary, StaleReport)> {
    let mut conn = db.acquire().await?;
    let not_found = || AppError::not_found(format!("there is no report #{id}"));
    let (row, body) = store::by_id(&mut conn, id)
        .await?
        .filter(|(row, _)| visible(row.project_id))
        .ok_or_else(not_found)?;
    let mut report: StaleReport = serde_json::from_str(&body).map_err(anyhow::Error::from)?;
    report.id = Some(id);
    Ok((row.into(), report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_carries_a_large_report_as_its_header_and_totals() {
        let report = json!({"id": 3, "project": {"key": "web"}, "week": "2031-W05",
            "generatedAt": "x", "totals": {"stale": 7000}, "owners": [], "changes": {}});
        assert_eq!(webhook_body(report.clone(), 1000), report, "small: whole");
        let cut = webhook_body(report, WEBHOOK_REPORT_LIMIT + 1);
        assert_eq!(cut["truncated"], true);
        assert_eq!(cut["totals"]["stale"], 7000);
        assert!(cut.get("owners").is_none() && cut.get("changes").is_none());
    }
}
