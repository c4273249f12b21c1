//! Reading what a report needs: every flag assessed now, their names, owners, environments,
//! dependencies, the last kept report and the week's events; then `build` makes the report.

use super::build::{self, Baseline, FlagInfo, Happened, Inputs};
use super::{store, Owner, ProjectRef, StaleReport};
use crate::clock::{parse_stamp, stamp};
use crate::db::Conn;
use crate::error::AppResult;
use crate::evaluation::ValueType;
use crate::lifecycle::assess;
use crate::lifecycle::store::{self as lifecycle_store, EnvFacts};
use crate::projects::Project;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

fn owner_of(f: &store::FlagRow) -> Owner {
    match (&f.owner_email, &f.team_key) {
        (Some(email), _) => Owner::User {
            email: email.clone(),
            name: f.owner_name.clone().unwrap_or_default(),
            active: f.owner_active.unwrap_or(false),
        },
        (None, Some(key)) => Owner::Team {
            key: key.clone(),
            name: f.team_name.clone().unwrap_or_default(),
        },
        (None, None) => Owner::None,
    }
}

fn happened(action: &str) -> Option<Happened> {
    Some(match action {
        "flag.created" => Happened::Created,
        "flag.archived" => Happened::Archived,
        "flag.completed" => Happened::Completed,
        "flag.became-stale" => Happened::BecameStale,
        "flag.recovered" => Happened::Recovered,
        _ => return None,
    })
}

/// The kept report to compare with: the project's newest before `week` (the newest of all when
/// None).
async fn baseline(
    conn: &mut Conn,
    project: &Project,
    before_week: Option<&str>,
) -> AppResult<Option<Baseline>> {
    let Some((id, generated_at, keys)) = store::latest(conn, project.id, before_week).await? else {
        return Ok(None);
    };
    let stale: Vec<String> = serde_json::from_str(&keys).unwrap_or_default();
    Ok(Some(Baseline {
        id,
        generated_at,
        stale: stale.into_iter().collect(),
    }))
}

/// The report of `project` as of `now`, for `week`; changes are counted from the newest kept
/// report before `week` (`baseline_before`), or from the newest of all when None.
pub async fn compute(
    conn: &mut Conn,
    project: &Project,
    now: DateTime<Utc>,
    week: &str,
    baseline_before: Option<&str>,
) -> AppResult<StaleReport> {
    let assessed = assess::project(&mut *conn, project, now).await?;
    let flags: HashMap<i64, FlagInfo> = store::flags(&mut *conn, project.id)
        .await?
        .into_iter()
        .map(|f| {
            let info = FlagInfo {
                owner: owner_of(&f),
                key: f.key,
                name: f.name,
                flag_type: f.flag_type,
                value_type: ValueType::parse(&f.value_type).unwrap_or_default(),
                created_at: parse_stamp(&f.created_at).unwrap_or(now),
                archived: f.archived,
            };
            (f.id, info)
        })
        .collect();
    let mut environments: HashMap<i64, Vec<EnvFacts>> = HashMap::new();
    for e in lifecycle_store::environments(&mut *conn, project.id, None).await? {
        environments.entry(e.flag_id).or_default().push(e);
    }
    let mut parents: HashMap<i64, Vec<String>> = HashMap::new();
    for (flag_id, parent) in store::parents(&mut *conn, project.id).await? {
        parents.entry(flag_id).or_default().push(parent);
    }
    let baseline = baseline(&mut *conn, project, baseline_before).await?;
    let since = match &baseline {
        Some(b) => b.generated_at.clone(),
        None => stamp(now - Duration::days(7)),
    };
    let mut events: HashMap<String, Vec<Happened>> = HashMap::new();
    for (key, action) in store::events_since(&mut *conn, &project.key, &since).await? {
        if let Some(h) = happened(&action) {
            events.entry(key).or_default().push(h);
        }
    }
    Ok(build::report(&Inputs {
        project: ProjectRef {
            key: project.key.clone(),
            name: project.name.clone(),
        },
        week: week.to_string(),
        now,
        assessed: &assessed,
        flags: &flags,
        environments: &environments,
        parents: &parents,
        baseline: baseline.as_ref(),
        since,
        events: &events,
    }))
}

/// The report computed now (compared with the newest kept report).
pub async fn current(
    conn: &mut Conn,
    project: &Project,
    now: DateTime<Utc>,
) -> AppResult<StaleReport> {
    compute(conn, project, now, &super::iso_week(now), None).await
}

/// What everyone gets today from one flag, per environment, and the code change removing it
/// needs (the flag page's Lifecycle tab).
pub async fn what_everyone_gets(
    conn: &mut Conn,
    project: &Project,
    flag_id: i64,
    value_type: ValueType,
    completion: Option<&crate::lifecycle::assess::Completion>,
) -> AppResult<(
    Vec<crate::lifecycle::served::EnvGets>,
    crate::lifecycle::served::Suggestion,
)> {
    let envs = lifecycle_store::environments(&mut *conn, project.id, Some(flag_id)).await?;
    let parents: Vec<String> = store::parents(&mut *conn, project.id)
        .await?
        .into_iter()
        .filter(|(id, _)| *id == flag_id)
        .map(|(_, parent)| parent)
        .collect();
    Ok(build::everyone(&envs, &parents, value_type, completion))
}
