//! Judging flags: the evidence the rules need beyond one flag's own rows, read once per project,
//! and the pure rules (`stage`, `stale`) applied to one flag's rows.

use super::{Assessment, Completion, Snooze};
use crate::audit::Action;
use crate::catalog::FlagType;
use crate::clock::{parse_stamp, stamp};
use crate::coderefs::{self, NoReferences};
use crate::db::Conn;
use crate::error::AppResult;
use crate::lifecycle::stage::{self, Event, Span};
use crate::lifecycle::stale::{self, Owner, Thresholds};
use crate::lifecycle::store::{self, EnvFacts, FlagFacts, LastEvaluation, SdkSeen};
use crate::projects::{store as projects, Project};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// What the rules need beyond one flag's own rows, read once per project.
pub(super) struct Context {
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

pub(super) async fn context(
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

pub(super) fn judge(f: &FlagFacts, cx: &Context, now: DateTime<Utc>) -> Assessment {
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
