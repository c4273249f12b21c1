//! Assessing flags: gather the evidence from the stores, apply the pure rules (`stage`,
//! `stale`), and remember the result, so the catalog filters and the feed's `stale` field read
//! it without recomputing. A flag that turns stale is audited (`flag.became-stale`, which also
//! tells the feed) and announced to webhooks once; recovering is audited too.

use super::stage::{self, Event, Span, Stage};
use super::stale::{self, Code, Owner, StaleReason, Thresholds};
use super::store::{self, EnvFacts, FlagFacts, LastEvaluation, SdkSeen};
use crate::audit::{self, Action, Actor, NewEntry};
use crate::catalog::FlagType;
use crate::clock::{parse_stamp, stamp};
use crate::coderefs::{self, NoReferences};
use crate::db::Conn;
use crate::error::AppResult;
use crate::projects::{store as projects, Project};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

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

/// What the rules need beyond one flag's own rows, read once per project.
struct Context {
    thresholds: Thresholds,
    lifetimes: HashMap<String, Option<i64>>,
    protected: HashSet<String>,
    sdks: Vec<SdkSeen>,
    evaluations: HashMap<(String, String), DateTime<Utc>>,
    envs: HashMap<i64, Vec<EnvFacts>>,
    history: HashMap<String, Vec<(DateTime<Utc>, Event)>>,
    /// The latest scans that found nothing of these flags (None: no repository reported).
    unreferenced: Option<NoReferences>,
}

async fn context(
    conn: &mut Conn,
    project: &Project,
    only: Option<(i64, &str)>,
) -> AppResult<Context> {
    let thresholds = store::thresholds(&mut *conn, project.id).await?;
    let lifetimes = projects::lifetimes(&mut *conn, project.id)
        .await?
        .into_iter()
        .collect();
    let protected = projects::environments(&mut *conn, project.id)
        .await?
        .into_iter()
        .filter(|e| e.protected)
        .map(|e| e.key)
        .collect();
    let sdks = store::sdks_seen(&mut *conn, project.id).await?;
    let evaluations = store::last_evaluations(&mut *conn, project.id, only.map(|o| o.1))
        .await?
        .into_iter()
        .filter_map(
            |LastEvaluation {
                 flag_key,
                 environment,
                 hour,
             }| { Some(((flag_key, environment), parse_stamp(&hour)?)) },
        )
        .collect();
    let mut envs: HashMap<i64, Vec<EnvFacts>> = HashMap::new();
    for e in store::environments(&mut *conn, project.id, only.map(|o| o.0)).await? {
        envs.entry(e.flag_id).or_default().push(e);
    }
    let mut history: HashMap<String, Vec<(DateTime<Utc>, Event)>> = HashMap::new();
    for h in store::history(&mut *conn, &project.key, only.map(|o| o.1)).await? {
        if let (Some(at), Some(event)) = (parse_stamp(&h.at), event_of(&h)) {
            history.entry(h.flag_key).or_default().push((at, event));
        }
    }
    let unreferenced = coderefs::unreferenced(&mut *conn, project.id).await?;
    Ok(Context {
        unreferenced,
        thresholds,
        lifetimes,
        protected,
        sdks,
        evaluations,
        envs,
        history,
    })
}

fn event_of(h: &store::HistoryRow) -> Option<Event> {
    let action = Action::parse(&h.action)?;
    let switched = |on: bool| {
        h.environment
            .clone()
            .map(|environment| Event::Switched { environment, on })
    };
    match action {
        Action::FlagCreated => Some(Event::Created),
        Action::FlagEnabled => switched(true),
        Action::FlagDisabled => switched(false),
        // An emergency stop, not a retreat from production: the stage stays.
        Action::FlagKilled => None,
        // An Unleash import names the environment and carries the imported switch.
        Action::FlagImported => {
            let after: Value = serde_json::from_str(h.after.as_deref()?).ok()?;
            switched(after.get("enabled")?.as_bool()?)
        }
        Action::FlagArchived => Some(Event::Archived),
        Action::FlagRevived => Some(Event::Revived),
        Action::FlagCompleted => Some(Event::Completed),
        Action::FlagReopened => Some(Event::Reopened),
        _ => None,
    }
}

fn owner_of(f: &FlagFacts) -> Owner {
    match (&f.owner_email, &f.owner_team) {
        (Some(email), _) => Owner::User {
            email: email.clone(),
            active: f.owner_active.unwrap_or(false),
        },
        (None, Some(key)) => Owner::Team {
            key: key.clone(),
            members: usize::try_from(f.team_members.unwrap_or(0)).unwrap_or(0),
        },
        (None, None) => Owner::Nobody,
    }
}

fn json_list(text: &str) -> Vec<Value> {
    serde_json::from_str(text).unwrap_or_default()
}

fn judge(f: &FlagFacts, cx: &Context, now: DateTime<Utc>) -> Assessment {
    let created = parse_stamp(&f.created_at).unwrap_or(now);
    let envs = cx.envs.get(&f.id).map(Vec::as_slice).unwrap_or_default();
    let environments: Vec<stale::Environment> = envs
        .iter()
        .map(|e| stale::Environment {
            key: e.environment.clone(),
            protected: e.protected,
            on: e.enabled,
            everyone: stale::serves_everyone(&json_list(&e.strategies), &json_list(&e.variants)),
            changed_at: parse_stamp(&e.updated_at).unwrap_or(created),
        })
        .collect();
    let usage: Vec<stale::Usage> = envs
        .iter()
        .map(|e| {
            let seen: Vec<&SdkSeen> = cx
                .sdks
                .iter()
                .filter(|s| s.environment == e.environment)
                .collect();
            stale::Usage {
                environment: e.environment.clone(),
                sdks_first_seen: seen.iter().filter_map(|s| parse_stamp(&s.first_seen)).min(),
                sdks_last_seen: seen.iter().filter_map(|s| parse_stamp(&s.last_seen)).max(),
                apps: seen.iter().map(|s| s.app_name.clone()).collect(),
                last_evaluated: cx
                    .evaluations
                    .get(&(f.key.clone(), e.environment.clone()))
                    .copied(),
            }
        })
        .collect();
    let flag_type = FlagType::parse(&f.flag_type);
    let lifetime = match f.lifetime_days {
        Some(days) => Some(days),
        None => match cx.lifetimes.get(&f.flag_type) {
            Some(days) => *days,
            None => flag_type.and_then(FlagType::default_lifetime_days),
        },
    };
    // Permanent types (no expected lifetime), kill switches and flags marked permanent.
    let exempt = f.permanent || flag_type == Some(FlagType::KillSwitch) || lifetime.is_none();
    let owner = owner_of(f);
    let completion = f.completed_outcome.clone().map(|outcome| Completion {
        outcome,
        variant: f.completed_variant.clone(),
        note: f.completed_note.clone().unwrap_or_default(),
        by: f.completed_by.clone().unwrap_or_default(),
        at: f.completed_at.clone().unwrap_or_default(),
    });
    // Evidence only for flags every latest scan looked for and none found.
    let scans: Option<Vec<stale::Scan>> = cx
        .unreferenced
        .as_ref()
        .filter(|nr| nr.contains(&f.key))
        .map(|nr| {
            nr.scans
                .iter()
                .map(|s| stale::Scan {
                    repository: s.repository.clone(),
                    scanned_at: s.scanned_at.clone(),
                    commit: s.commit.clone(),
                    references: 0,
                })
                .collect()
        });
    let archived = f.archived_at.is_some();
    let found = if archived || completion.is_some() {
        Vec::new()
    } else {
        let facts = stale::Facts {
            created_at: created,
            exempt,
            lifetime_days: lifetime,
            environments: &environments,
            usage: &usage,
            scans: scans.as_deref(),
            owner: &owner,
        };
        stale::reasons(&facts, &cx.thresholds, now)
    };
    let pairs: Vec<(bool, bool)> = envs
        .iter()
        .map(|e| (e.enabled || e.killed, e.protected))
        .collect();
    let stage_now = stage::current(stage::Now {
        archived,
        completed: completion.is_some(),
        ever_on: f.first_enabled_at.is_some(),
        environments: &pairs,
    });
    let mut events = vec![(created, Event::Created)];
    events.extend(cx.history.get(&f.key).cloned().unwrap_or_default());
    events.sort_by_key(|(at, _)| *at);
    let mut stages = stage::timeline(&events, &cx.protected, now);
    // History written before stages were tracked may not explain today's state: the last span
    // is always the current stage.
    if stages.last().map(|s| s.stage) != Some(stage_now) {
        let since = envs
            .iter()
            .filter_map(|e| parse_stamp(&e.updated_at))
            .max()
            .unwrap_or(created);
        stages.push(Span {
            stage: stage_now,
            entered_at: since,
            days: (now - since).num_days().max(0),
        });
    }
    let entered_at = stages.last().map_or(created, |s| s.entered_at);
    let snooze = f.snoozed_until.clone().map(|until| Snooze {
        until,
        reason: f.snooze_reason.clone().unwrap_or_default(),
        by: f.snoozed_by.clone().unwrap_or_default(),
    });
    Assessment {
        flag_id: f.id,
        key: f.key.clone(),
        stage: stage_now,
        entered_at: stamp(entered_at),
        stages,
        found,
        snooze,
        completion,
        now,
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
