//! Assessing flags: gather the evidence from the stores, apply the pure rules (`stage`,
//! `stale`), and remember the result, so the catalog filters and the feed's `stale` field read
//! it without recomputing. A flag that turns stale is audited (`flag.became-stale`, which also
//! tells the feed) and announced to webhooks once; recovering is audited too. `judge` reads the
//! evidence and applies the rules; this module says where flags stand and records it.

mod judge;

use super::stage::{Span, Stage};
use super::stale::{Code, StaleReason};
use super::store;
use crate::audit::{self, Action, Actor, NewEntry};
use crate::clock::{parse_stamp, stamp};
use crate::db::Conn;
use crate::error::AppResult;
use crate::projects::Project;
use chrono::{DateTime, Utc};
use judge::{context, judge};
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;

/// An owner's "not stale until", shown beside the badge.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snooze {
    pub until: String,
    pub reason: String,
    pub by: String,
}

/// An owner marked the flag done.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Completion {
    pub outcome: String,
    pub variant: Option<String>,
    pub note: String,
    pub by: String,
    pub at: String,
}

/// Where one flag stands.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assessment {
    #[serde(skip)]
    pub flag_id: i64,
    #[serde(skip)]
    pub key: String,
    pub stage: Stage,
    pub entered_at: String,
    pub stages: Vec<Span>,
    /// Every reason found, snoozed or not.
    #[serde(skip)]
    pub found: Vec<StaleReason>,
    pub snooze: Option<Snooze>,
    pub completion: Option<Completion>,
    #[serde(skip)]
    now: DateTime<Utc>,
}

impl Assessment {
    /// True when it has reasons and no snooze covers now.
    pub fn stale(&self) -> bool {
        !self.found.is_empty() && !self.snoozed()
    }

    pub fn snoozed(&self) -> bool {
        self.snooze
            .as_ref()
            .and_then(|s| parse_stamp(&s.until))
            .is_some_and(|until| until > self.now)
    }

    /// The reasons that count now: none while a snooze lasts.
    pub fn reasons(&self) -> &[StaleReason] {
        if self.snoozed() {
            &[]
        } else {
            &self.found
        }
    }

    pub fn codes(&self) -> Vec<&'static str> {
        self.reasons().iter().map(|r| r.code.as_str()).collect()
    }
}

/// One flag, assessed now (nothing stored).
pub async fn flag(
    conn: &mut Conn,
    project: &Project,
    flag_id: i64,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<Option<Assessment>> {
    let cx = context(&mut *conn, project, Some((flag_id, key))).await?;
    let facts = store::flags(&mut *conn, project.id, Some(flag_id)).await?;
    Ok(facts.first().map(|f| judge(f, &cx, now)))
}

/// Every flag of the project, assessed now (nothing stored).
pub async fn project(
    conn: &mut Conn,
    project: &Project,
    now: DateTime<Utc>,
) -> AppResult<Vec<Assessment>> {
    let cx = context(&mut *conn, project, None).await?;
    let facts = store::flags(&mut *conn, project.id, None).await?;
    Ok(facts.iter().map(|f| judge(f, &cx, now)).collect())
}

/// Stores the assessments of the project's flags; flags that turned stale or recovered since
/// the last time are audited (and turning stale is announced to webhooks). Returns how many
/// moved either way.
pub async fn record(
    conn: &mut Conn,
    project: &Project,
    assessed: &[Assessment],
    now: DateTime<Utc>,
) -> AppResult<usize> {
    // One pass over 10,000 flags would otherwise rewrite 30,000 rows every few minutes though
    // almost none changed: only what differs from the stored assessment is written.
    let only = match assessed {
        [one] => Some(one.flag_id),
        _ => None,
    };
    let kept: HashMap<i64, store::Kept> = store::kept(&mut *conn, project.id, only)
        .await?
        .into_iter()
        .map(|k| (k.flag_id, k))
        .collect();
    let actor = Actor::system("lifecycle");
    let at = stamp(now);
    let mut turned = 0;
    for a in assessed {
        let reasons = serde_json::to_string(a.reasons()).map_err(anyhow::Error::from)?;
        let stored = store::Stored {
            flag_id: a.flag_id,
            stage: a.stage.as_str(),
            stage_entered_at: &a.entered_at,
            stale: a.stale(),
            codes: a.codes(),
            reasons,
        };
        let before = kept.get(&a.flag_id);
        if before.is_some_and(|k| stored.same_as(k)) {
            continue;
        }
        store::save(&mut *conn, project.id, &stored, &at).await?;
        let was_stale = before.is_some_and(|k| k.stale);
        let target = format!("flag {}/{}", project.key, a.key);
        match (was_stale, a.stale()) {
            (false, true) => {
                turned += 1;
                let entry = NewEntry::new(Action::FlagBecameStale, target)
                    .project(&project.key)
                    .flag(&a.key)
                    .after(json!({ "staleReasons": a.reasons() }));
                audit::append(&mut *conn, &actor, entry, now).await?;
                let summary: Vec<&str> = a.reasons().iter().map(|r| r.code.label()).collect();
                crate::notify::stale(&mut *conn, project, &a.key, &summary.join(", "), now).await?;
            }
            (true, false) => {
                turned += 1;
                let entry = NewEntry::new(Action::FlagRecovered, target)
                    .project(&project.key)
                    .flag(&a.key)
                    .after(json!({ "snoozed": a.snoozed() }));
                audit::append(&mut *conn, &actor, entry, now).await?;
            }
            _ => {}
        }
    }
    Ok(turned)
}

/// Assesses one flag again and stores the result (after a change to it), inside the caller's
/// transaction.
pub async fn refresh_flag(
    conn: &mut Conn,
    project: &Project,
    flag_id: i64,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if let Some(a) = flag(&mut *conn, project, flag_id, key, now).await? {
        record(conn, project, std::slice::from_ref(&a), now).await?;
    }
    Ok(())
}

/// The reason codes the catalog can filter by.
pub fn codes() -> impl Iterator<Item = &'static str> {
    Code::ALL.into_iter().map(Code::as_str)
}

#[cfg(test)]
impl Assessment {
    /// An assessment made up for tests of what is built from assessments.
    pub fn example(
        flag_id: i64,
        key: &str,
        found: Vec<StaleReason>,
        snooze: Option<Snooze>,
        completion: Option<Completion>,
        now: DateTime<Utc>,
    ) -> Assessment {
        Assessment {
            flag_id,
            key: key.to_string(),
            stage: if completion.is_some() {
                Stage::Completed
            } else {
                Stage::Live
            },
            entered_at: stamp(now),
            stages: Vec::new(),
            found,
            snooze,
            completion,
            now,
        }
    }
}
