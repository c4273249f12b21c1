//! The retirement checklist (issue 12, item 4): what should hold before a completed or stale flag
//! is archived, each item with its evidence and a verdict. Pure: the facts come in (gathered by
//! [`super::checklist`]), the checks come out.
//!
//! Absence of evidence is never a pass: with no scan of any repository, or no SDK reporting
//! during the quiet window, the item is `unknown`, not `pass`.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Fail,
    /// Not enough evidence either way: not a pass.
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Item {
    CodeReferences,
    Evaluations,
    Dependents,
    ChangeRequests,
}

impl Item {
    pub fn as_str(self) -> &'static str {
        match self {
            Item::CodeReferences => "code-references",
            Item::Evaluations => "evaluations",
            Item::Dependents => "dependents",
            Item::ChangeRequests => "change-requests",
        }
    }

    /// What the item asks, as the checklist lists it.
    pub fn question(self) -> &'static str {
        match self {
            Item::CodeReferences => "No code references left",
            Item::Evaluations => "No evaluations lately",
            Item::Dependents => "No dependent flags still active",
            Item::ChangeRequests => "Not part of an open change request",
        }
    }
}

/// The latest scan of one repository and what it found of the flag.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryScan {
    pub repository: String,
    pub scanned_at: DateTime<Utc>,
    pub commit: Option<String>,
    /// `file:line` of every reference found.
    pub references: Vec<String>,
}

/// The flag's last evaluation in one environment (None: never).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastEvaluation {
    pub environment: String,
    pub at: Option<DateTime<Utc>>,
}

/// An SDK (by app) that last reported in an environment at `last_seen`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SdkReport {
    pub environment: String,
    pub app: String,
    pub last_seen: DateTime<Utc>,
}

/// An unfinished change request with an item on the flag.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenRequest {
    pub id: i64,
    pub state: String,
    pub title: String,
    pub environment: String,
}

pub struct Facts<'a> {
    pub created_at: DateTime<Utc>,
    pub scans: &'a [RepositoryScan],
    /// Days without evaluation asked for (the project's setting).
    pub quiet_days: i64,
    pub evaluations: &'a [LastEvaluation],
    pub sdks: &'a [SdkReport],
    /// Active flags that depend on this one.
    pub dependents: &'a [String],
    pub requests: &'a [OpenRequest],
}

/// The evidence behind a verdict, as data.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Evidence {
    Scans {
        scans: Vec<RepositoryScan>,
    },
    #[serde(rename_all = "camelCase")]
    Evaluations {
        quiet_days: i64,
        since: DateTime<Utc>,
        environments: Vec<LastEvaluation>,
        /// Apps whose SDKs reported since then.
        reporting: Vec<String>,
    },
    Dependents {
        flags: Vec<String>,
    },
    ChangeRequests {
        requests: Vec<OpenRequest>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub item: Item,
    pub verdict: Verdict,
    pub message: String,
    pub evidence: Evidence,
}

pub fn checklist(f: &Facts<'_>, now: DateTime<Utc>) -> Vec<Check> {
    vec![
        code_references(f),
        evaluations(f, now),
        dependents(f),
        change_requests(f),
    ]
}

/// True when every item passed.
pub fn all_passed(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.verdict == Verdict::Pass)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn code_references(f: &Facts<'_>) -> Check {
    let found: usize = f.scans.iter().map(|s| s.references.len()).sum();
    let stale: Vec<&str> = f
        .scans
        .iter()
        .filter(|s| s.scanned_at < f.created_at)
        .map(|s| s.repository.as_str())
        .collect();
    let (verdict, message) = if f.scans.is_empty() {
        (
            Verdict::Unknown,
            "no repository has been scanned yet: run switchyard scan in each repository that \
             may use it"
                .to_string(),
        )
    } else if found > 0 {
        let repos = f.scans.iter().filter(|s| !s.references.is_empty()).count();
        (
            Verdict::Fail,
            format!(
                "still referenced {} in {}",
                plural(found, "time", "times"),
                plural(repos, "repository", "repositories")
            ),
        )
    } else if !stale.is_empty() {
        // A scan made before the flag existed did not look for it.
        (
            Verdict::Unknown,
            format!(
                "the latest scan of {} is older than the flag: scan again",
                stale.join(", ")
            ),
        )
    } else {
        (
            Verdict::Pass,
            format!(
                "no references in the latest scan of {}",
                plural(f.scans.len(), "repository", "repositories")
            ),
        )
    };
    Check {
        item: Item::CodeReferences,
        verdict,
        message,
        evidence: Evidence::Scans {
            scans: f.scans.to_vec(),
        },
    }
}

fn evaluations(f: &Facts<'_>, now: DateTime<Utc>) -> Check {
    let since = now - Duration::days(f.quiet_days);
    // Usage is kept per hour: an hour that ends after `since` may hold an evaluation after it.
    let recent: Vec<&LastEvaluation> = f
        .evaluations
        .iter()
        .filter(|e| e.at.is_some_and(|at| at + Duration::hours(1) > since))
        .collect();
    let mut reporting: Vec<String> = f
        .sdks
        .iter()
        .filter(|s| s.last_seen >= since)
        .map(|s| s.app.clone())
        .collect();
    reporting.sort();
    reporting.dedup();
    let days = plural(usize::try_from(f.quiet_days).unwrap_or(0), "day", "days");
    let (verdict, message) = if !recent.is_empty() {
        let envs: Vec<&str> = recent.iter().map(|e| e.environment.as_str()).collect();
        (
            Verdict::Fail,
            format!("evaluated in the last {days} in {}", envs.join(", ")),
        )
    } else if reporting.is_empty() {
        (
            Verdict::Unknown,
            format!("no SDK reported in the last {days}, so an evaluation could have gone unseen"),
        )
    } else {
        (
            Verdict::Pass,
            format!("not evaluated in any environment for {days} while SDKs reported"),
        )
    };
    Check {
        item: Item::Evaluations,
        verdict,
        message,
        evidence: Evidence::Evaluations {
            quiet_days: f.quiet_days,
            since,
            environments: f.evaluations.to_vec(),
            reporting,
        },
    }
}

fn dependents(f: &Facts<'_>) -> Check {
    let (verdict, message) = if f.dependents.is_empty() {
        (Verdict::Pass, "no active flag depends on it".to_string())
    } else {
        (
            Verdict::Fail,
            format!(
                "active flags depend on it: {}; archiving is refused until they no longer do",
                f.dependents.join(", ")
            ),
        )
    };
    Check {
        item: Item::Dependents,
        verdict,
        message,
        evidence: Evidence::Dependents {
            flags: f.dependents.to_vec(),
        },
    }
}

fn change_requests(f: &Facts<'_>) -> Check {
    let (verdict, message) = if f.requests.is_empty() {
        (
            Verdict::Pass,
            "not part of any open change request".to_string(),
        )
    } else {
        let ids: Vec<String> = f.requests.iter().map(|r| format!("#{}", r.id)).collect();
        (
            Verdict::Fail,
            format!("part of open change request {}", ids.join(", ")),
        )
    };
    Check {
        item: Item::ChangeRequests,
        verdict,
        message,
        evidence: Evidence::ChangeRequests {
            requests: f.requests.to_vec(),
        },
    }
}

#[cfg(test)]
mod tests;
