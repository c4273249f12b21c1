//! Building a report from what `gather` read: pure, so its grouping, totals and "what changed"
//! are tested without a database.

use super::{
    Changes, FlagEntry, Owner, OwnerGroup, ProjectRef, Reason, StaleReport, State, Totals,
};
use crate::clock::stamp;
use crate::evaluation::ValueType;
use crate::lifecycle::assess::{Assessment, Completion};
use crate::lifecycle::served::{self, Decided, EnvTargeting};
use crate::lifecycle::store::EnvFacts;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

/// A flag's own facts beyond its assessment.
#[derive(Debug, Clone)]
pub struct FlagInfo {
    pub key: String,
    pub name: String,
    pub flag_type: String,
    pub value_type: ValueType,
    pub created_at: DateTime<Utc>,
    pub archived: bool,
    pub owner: Owner,
}

/// The kept report the changes are counted from.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub id: i64,
    pub generated_at: String,
    pub stale: HashSet<String>,
}

/// An audited event of a flag since the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Happened {
    Created,
    Archived,
    Completed,
    BecameStale,
    Recovered,
}

/// Everything a report is built from.
pub struct Inputs<'a> {
    pub project: ProjectRef,
    pub week: String,
    pub now: DateTime<Utc>,
    pub assessed: &'a [Assessment],
    /// By flag id.
    pub flags: &'a HashMap<i64, FlagInfo>,
    /// Each flag's environments, by flag id, in the environments' order.
    pub environments: &'a HashMap<i64, Vec<EnvFacts>>,
    /// The keys each flag depends on, by flag id.
    pub parents: &'a HashMap<i64, Vec<String>>,
    pub baseline: Option<&'a Baseline>,
    /// When "what changed" starts: the baseline's time, or a week ago.
    pub since: String,
    /// Flag events after `since`, by key.
    pub events: &'a HashMap<String, Vec<Happened>>,
}

fn list(text: &str) -> Vec<Value> {
    serde_json::from_str(text).unwrap_or_default()
}

/// What everyone gets in each environment of a flag (its environments' stored state, in order,
/// and the keys it depends on), and the code change removing it needs.
pub fn everyone(
    envs: &[EnvFacts],
    parents: &[String],
    value_type: ValueType,
    completion: Option<&Completion>,
) -> (Vec<served::EnvGets>, served::Suggestion) {
    let parsed: Vec<(Vec<Value>, Vec<Value>)> = envs
        .iter()
        .map(|e| (list(&e.strategies), list(&e.variants)))
        .collect();
    let targeting: Vec<EnvTargeting<'_>> = envs
        .iter()
        .zip(&parsed)
        .map(|(e, (strategies, variants))| EnvTargeting {
            environment: &e.environment,
            protected: e.protected,
            on: e.enabled,
            strategies,
            variants,
            parents,
        })
        .collect();
    let gets = served::environments(&targeting, value_type);
    let decided = completion.map(|c| Decided {
        outcome: &c.outcome,
        variant: c.variant.as_deref(),
    });
    let action = served::suggest(&gets, decided);
    (gets, action)
}

fn state_of(a: &Assessment) -> Option<State> {
    if a.completion.is_some() {
        Some(State::Completed)
    } else if a.stale() {
        Some(State::Stale)
    } else if !a.found.is_empty() {
        Some(State::Snoozed)
    } else {
        None
    }
}

fn entry(i: &Inputs<'_>, a: &Assessment, info: &FlagInfo, state: State) -> FlagEntry {
    let envs = i.environments.get(&a.flag_id).map(Vec::as_slice);
    let parents = i.parents.get(&a.flag_id).map(Vec::as_slice);
    let (everyone, action) = everyone(
        envs.unwrap_or_default(),
        parents.unwrap_or_default(),
        info.value_type,
        a.completion.as_ref(),
    );
    let new_this_week = state == State::Stale && is_new(i, &info.key);
    FlagEntry {
        key: info.key.clone(),
        name: info.name.clone(),
        flag_type: info.flag_type.clone(),
        state,
        new_this_week,
        stage: a.stage.as_str().to_string(),
        stage_since: a.entered_at.clone(),
        created_at: stamp(info.created_at),
        age_days: (i.now - info.created_at).num_days().max(0),
        reasons: a
            .found
            .iter()
            .map(|r| Reason {
                code: r.code.as_str().to_string(),
                message: r.message.clone(),
                evidence: r.evidence.clone(),
            })
            .collect(),
        everyone,
        action,
        snooze: a.snooze.clone(),
        completion: a.completion.clone(),
        url: format!(
            "{}?tab=lifecycle",
            crate::href::flag(&i.project.key, &info.key)
        ),
    }
}

fn happened(i: &Inputs<'_>, key: &str, what: Happened) -> bool {
    i.events.get(key).is_some_and(|h| h.contains(&what))
}

/// Stale now and not in the last report; without one, turned stale within the week.
fn is_new(i: &Inputs<'_>, key: &str) -> bool {
    match i.baseline {
        Some(b) => !b.stale.contains(key),
        None => happened(i, key, Happened::BecameStale),
    }
}

fn changes(i: &Inputs<'_>) -> Changes {
    let mut c = Changes {
        since: i.since.clone(),
        since_report: i.baseline.map(|b| b.id),
        ..Changes::default()
    };
    for a in i.assessed {
        let Some(info) = i.flags.get(&a.flag_id) else {
            continue;
        };
        let key = &info.key;
        let completed = a.completion.is_some();
        if a.stale() && !info.archived && is_new(i, key) {
            c.newly_stale.push(key.clone());
        }
        let was_stale = match i.baseline {
            Some(b) => b.stale.contains(key),
            None => happened(i, key, Happened::Recovered),
        };
        if was_stale && !a.stale() && !info.archived && !completed {
            c.recovered.push(key.clone());
        }
        if completed && happened(i, key, Happened::Completed) {
            c.completed.push(key.clone());
        }
        if info.archived && happened(i, key, Happened::Archived) {
            c.archived.push(key.clone());
        }
        if happened(i, key, Happened::Created) {
            c.created.push(key.clone());
        }
    }
    for keys in [
        &mut c.newly_stale,
        &mut c.recovered,
        &mut c.completed,
        &mut c.archived,
        &mut c.created,
    ] {
        keys.sort();
    }
    c
}

fn totals(i: &Inputs<'_>) -> Totals {
    let mut t = Totals::default();
    for a in i.assessed {
        let Some(info) = i.flags.get(&a.flag_id) else {
            continue;
        };
        if info.archived {
            t.archived += 1;
            continue;
        }
        t.flags += 1;
        match state_of(a) {
            Some(State::Stale) => {
                t.stale += 1;
                for r in a.reasons() {
                    *t.by_reason.entry(r.code.as_str().to_string()).or_default() += 1;
                }
            }
            Some(State::Snoozed) => t.snoozed += 1,
            Some(State::Completed) => t.completed += 1,
            None => {}
        }
    }
    let flags = i64::try_from(t.flags).unwrap_or(i64::MAX);
    let stale = i64::try_from(t.stale).unwrap_or(0);
    t.health_percent = (flags > 0).then(|| (flags - stale) * 100 / flags);
    t
}

/// The report of one project.
pub fn report(i: &Inputs<'_>) -> StaleReport {
    let mut groups: BTreeMap<Owner, Vec<FlagEntry>> = BTreeMap::new();
    for a in i.assessed {
        let Some(info) = i.flags.get(&a.flag_id).filter(|f| !f.archived) else {
            continue;
        };
        if let Some(state) = state_of(a) {
            groups
                .entry(info.owner.clone())
                .or_default()
                .push(entry(i, a, info, state));
        }
    }
    let owners = groups
        .into_iter()
        .map(|(owner, mut flags)| {
            flags.sort_by(|a, b| (a.state, &a.key).cmp(&(b.state, &b.key)));
            OwnerGroup { owner, flags }
        })
        .collect();
    StaleReport {
        id: None,
        project: i.project.clone(),
        week: i.week.clone(),
        generated_at: stamp(i.now),
        totals: totals(i),
        owners,
        changes: changes(i),
    }
}

#[cfg(test)]
mod tests;
