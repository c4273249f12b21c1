//! The Lifecycle tab's retirement checklist: for a completed or stale flag, each item of
//! `lifecycle::retirement` with its live evidence and verdict, and the form that archives the
//! flag with an outcome and a reason; for an archived flag, that record (from its audit entry).

use crate::audit::store as audit_store;
use crate::catalog::service::FlagDetail;
use crate::clock::stamp;
use crate::db::Conn;
use crate::error::AppResult;
use crate::lifecycle::retirement::{self, Check, Evidence, Item, Verdict};
use crate::lifecycle::{checklist, Stage};
use crate::projects::Project;
use crate::web::href;
use crate::web::text::short_time;
use chrono::{DateTime, Utc};

/// One line of evidence, linked when there is a page for it.
pub struct EvidenceLine {
    pub label: String,
    pub value: String,
    pub href: Option<String>,
}

pub struct CheckView {
    /// `code-references`, `evaluations`, `dependents`, `change-requests`.
    pub item: &'static str,
    pub question: &'static str,
    /// `pass`, `fail` or `unknown`.
    pub verdict: &'static str,
    pub message: String,
    pub evidence: Vec<EvidenceLine>,
}

/// How an archived flag was retired, as its last `flag.archived` entry says.
pub struct ArchivedRecord {
    pub at: String,
    pub by: String,
    pub outcome: String,
    pub reason: String,
}

#[derive(Default)]
pub struct RetirementView {
    pub archived: Option<ArchivedRecord>,
    pub checks: Vec<CheckView>,
    pub passed: usize,
    pub all_passed: bool,
    /// Active flags depend on it: archiving would be refused.
    pub blocked: bool,
    /// The completion's outcome, to preselect in the form.
    pub outcome: String,
}

/// The checklist of a completed or stale flag that is not archived; None for any other.
pub async fn retirement_view(
    conn: &mut Conn,
    project: &Project,
    d: &FlagDetail,
    now: DateTime<Utc>,
) -> AppResult<Option<RetirementView>> {
    let Some(a) = &d.lifecycle else {
        return Ok(None);
    };
    if d.flag.archived_at.is_some() {
        return Ok(Some(RetirementView {
            archived: archived_record(conn, project, &d.flag.key).await?,
            ..Default::default()
        }));
    }
    if !(a.stage == Stage::Completed || a.stale()) {
        return Ok(None);
    }
    let checks = checklist::checklist(conn, project, &d.flag.key, now).await?;
    Ok(Some(RetirementView {
        archived: None,
        passed: checks.iter().filter(|c| c.verdict == Verdict::Pass).count(),
        all_passed: retirement::all_passed(&checks),
        blocked: checks
            .iter()
            .any(|c| c.item == Item::Dependents && c.verdict == Verdict::Fail),
        outcome: a
            .completion
            .as_ref()
            .map(|c| c.outcome.clone())
            .unwrap_or_default(),
        checks: checks.iter().map(|c| check_view(&project.key, c)).collect(),
    }))
}

async fn archived_record(
    conn: &mut Conn,
    project: &Project,
    key: &str,
) -> AppResult<Option<ArchivedRecord>> {
    let filter = audit_store::Filter {
        project: Some(project.key.clone()),
        flag: Some(key.to_string()),
        action: Some("flag.archived".into()),
        ..Default::default()
    };
    let last = audit_store::list(conn, &filter, &None, 1, None).await?;
    Ok(last.into_iter().next().map(|e| {
        let after: serde_json::Value = e
            .after_json
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_default();
        ArchivedRecord {
            at: short_time(&e.at),
            by: e.actor_label,
            outcome: after["outcome"].as_str().unwrap_or_default().to_string(),
            reason: e.reason.unwrap_or_default(),
        }
    }))
}

fn check_view(project: &str, c: &Check) -> CheckView {
    CheckView {
        item: c.item.as_str(),
        question: c.item.question(),
        verdict: c.verdict.as_str(),
        message: crate::web::sentence(&c.message),
        evidence: evidence_lines(project, &c.evidence),
    }
}

fn when(t: DateTime<Utc>) -> String {
    short_time(&stamp(t))
}

fn line(label: impl Into<String>, value: impl Into<String>, href: Option<String>) -> EvidenceLine {
    EvidenceLine {
        label: label.into(),
        value: value.into(),
        href,
    }
}

/// The first few `file:line` places, and how many more.
fn places(refs: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut out = refs
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if refs.len() > SHOWN {
        out.push_str(&format!(" and {} more", refs.len() - SHOWN));
    }
    out
}

fn evidence_lines(project: &str, e: &Evidence) -> Vec<EvidenceLine> {
    match e {
        Evidence::Scans { scans } => scans
            .iter()
            .map(|s| {
                let commit = s
                    .commit
                    .as_deref()
                    .map(|c| format!(" at {}", c.chars().take(10).collect::<String>()))
                    .unwrap_or_default();
                let value = if s.references.is_empty() {
                    "no references".to_string()
                } else {
                    places(&s.references)
                };
                let label = format!("{}, scanned {}{commit}", s.repository, when(s.scanned_at));
                line(label, value, None)
            })
            .collect(),
        Evidence::Evaluations {
            since,
            environments,
            reporting,
            ..
        } => {
            let mut lines: Vec<EvidenceLine> = environments
                .iter()
                .map(|e| {
                    let value = e.at.map_or("never evaluated".into(), |at| {
                        format!("last evaluated in the hour from {}", when(at))
                    });
                    line(e.environment.clone(), value, None)
                })
                .collect();
            let apps = if reporting.is_empty() {
                "none".to_string()
            } else {
                reporting.join(", ")
            };
            lines.push(line(
                format!("SDKs reporting since {}", when(*since)),
                apps,
                None,
            ));
            lines
        }
        Evidence::Dependents { flags } => flags
            .iter()
            .map(|k| line(k.clone(), "active", Some(href::flag(project, k))))
            .collect(),
        Evidence::ChangeRequests { requests } => requests
            .iter()
            .map(|r| {
                let value = format!("{} in {}", r.state, r.environment);
                let label = format!("#{} {}", r.id, r.title);
                line(label, value, Some(href::change_request(r.id)))
            })
            .collect(),
    }
}
