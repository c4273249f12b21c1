//! The weekly cleanup report of one project: its stale flags grouped by owner (user, team, or
//! nobody), each with its reasons and evidence, age, stage, what everyone gets today and the
//! code change removing it needs; the snoozed and completed flags still waiting for cleanup;
//! what changed since the last kept report; totals and health. One data structure
//! ([`StaleReport`], whose JSON is documented in the README), rendered as JSON, Markdown and
//! CSV (`render`).
//!
//! `build` is pure; `gather` reads what it needs; `kept` keeps one report per project and ISO
//! week (a unique key, so a second attempt is a no-op), audited and announced to webhooks;
//! `schedule` is the in-process job that does so every week; `store` holds the SQL.

pub mod build;
pub mod gather;
pub mod kept;
pub mod render;
pub mod schedule;
pub mod store;

use super::assess::{Completion, Snooze};
use super::served::{EnvGets, Suggestion};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub use gather::{compute, current};

/// One project's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaleReport {
    /// Set on a kept report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub project: ProjectRef,
    /// The ISO week it covers, such as `2031-W05`.
    pub week: String,
    pub generated_at: String,
    pub totals: Totals,
    pub owners: Vec<OwnerGroup>,
    pub changes: Changes,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectRef {
    pub key: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Flags not archived.
    pub flags: usize,
    pub stale: usize,
    /// With reasons, under a snooze.
    pub snoozed: usize,
    /// Marked completed, not archived yet.
    pub completed: usize,
    pub archived: usize,
    /// The share of flags not archived that are not stale, in whole percent; None without any.
    pub health_percent: Option<i64>,
    /// Stale flags per reason code.
    pub by_reason: BTreeMap<String, usize>,
}

/// Who owns the flags of a group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Owner {
    User {
        email: String,
        name: String,
        active: bool,
    },
    Team {
        key: String,
        name: String,
    },
    /// The "no owner" group.
    None,
}

impl Owner {
    /// How the group is headed.
    pub fn label(&self) -> String {
        match self {
            Owner::User {
                email,
                name,
                active,
            } => {
                let gone = if *active { "" } else { " (deactivated)" };
                if name.is_empty() || name == email {
                    format!("{email}{gone}")
                } else {
                    format!("{name} <{email}>{gone}")
                }
            }
            Owner::Team { key, name } if name.is_empty() || name == key => format!("team {key}"),
            Owner::Team { key, name } => format!("team {name} ({key})"),
            Owner::None => "no owner".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerGroup {
    pub owner: Owner,
    pub flags: Vec<FlagEntry>,
}

/// Why a flag is in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Stale,
    /// It has reasons, but an owner snoozed it.
    Snoozed,
    /// Marked completed: waiting to be removed from the code and archived.
    Completed,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Stale => "stale",
            State::Snoozed => "snoozed",
            State::Completed => "completed",
        }
    }
}

/// A stale reason as the report keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reason {
    pub code: String,
    pub message: String,
    pub evidence: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlagEntry {
    pub key: String,
    pub name: String,
    #[serde(rename = "type")]
    pub flag_type: String,
    pub state: State,
    /// Stale now and not stale in the last kept report.
    pub new_this_week: bool,
    pub stage: String,
    pub stage_since: String,
    pub created_at: String,
    pub age_days: i64,
    pub reasons: Vec<Reason>,
    /// What everyone gets today, per environment.
    pub everyone: Vec<EnvGets>,
    pub action: Suggestion,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snooze: Option<Snooze>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion: Option<Completion>,
    /// The flag's Lifecycle tab (a path on this server).
    pub url: String,
}

/// What changed since the last kept report (or, without one, over the last seven days).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    pub since: String,
    /// The kept report compared with, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_report: Option<i64>,
    pub newly_stale: Vec<String>,
    pub recovered: Vec<String>,
    pub completed: Vec<String>,
    pub archived: Vec<String>,
    pub created: Vec<String>,
}

impl StaleReport {
    /// The keys of the flags stale in it (the next report's baseline).
    pub fn stale_keys(&self) -> Vec<&str> {
        self.owners
            .iter()
            .flat_map(|g| &g.flags)
            .filter(|f| f.state == State::Stale)
            .map(|f| f.key.as_str())
            .collect()
    }

    /// The path of its page: a kept report's own, else the one computed now.
    pub fn href(&self) -> String {
        match self.id {
            Some(id) => format!("/reports/{id}"),
            None => format!("/reports/stale?project={}", self.project.key),
        }
    }
}

/// The ISO week of `t`, as reports are keyed: `2031-W05`.
pub fn iso_week(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%G-W%V").to_string()
}

/// The projects a report covers: the one asked for, or every project the caller sees. A project
/// they may not see answers as one that does not exist.
pub fn scope(
    reach: &crate::authz::Reach,
    project: Option<&str>,
) -> crate::error::AppResult<Vec<crate::projects::Project>> {
    match project.map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(reach.projects().to_vec()),
        Some(key) => reach
            .projects()
            .iter()
            .find(|p| p.key == key)
            .map(|p| vec![p.clone()])
            .ok_or_else(|| {
                crate::error::AppError::not_found(format!(
                    "there is no project {key:?}, or you are not a member of it"
                ))
            }),
    }
}

/// The reports of `projects` computed now.
pub async fn current_all(
    db: &crate::db::Db,
    projects: &[crate::projects::Project],
    now: chrono::DateTime<chrono::Utc>,
) -> crate::error::AppResult<Vec<StaleReport>> {
    let mut conn = db.acquire().await?;
    let mut out = Vec::with_capacity(projects.len());
    for p in projects {
        out.push(current(&mut conn, p, now).await?);
    }
    Ok(out)
}
