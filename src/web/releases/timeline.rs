//! The data of a flag's timeline in one environment: the feed's evaluations per hour, each
//! guard's value over time (read through `signals` and the guard's own aggregation), and every
//! change of the flag there (switches, strategy edits, milestones, rollbacks) as a mark
//! described in words. Drawn by `web::chart::timeline`.

use crate::audit::describe::{self, Names};
use crate::audit::store::{self as audit, Filter};
use crate::clock::parse_stamp;
use crate::db::Conn;
use crate::error::AppResult;
use crate::projects::{Environment, Project};
use crate::rollout::check::PointCache;
use crate::rollout::PlanView;
use crate::signals::{self, PointValue};
use crate::web::chart::timeline::{self, Line, Mark, MarkKind};
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeMap;

/// Steps a guard's value is read at across the chart.
const STEPS: i64 = 48;

fn kind_of(action: &str) -> Option<MarkKind> {
    match action {
        "release-plan.rolled-back" | "flag.killed" => Some(MarkKind::Rollback),
        a if a.starts_with("release-plan.") => Some(MarkKind::Milestone),
        "flag.enabled"
        | "flag.disabled"
        | "flag.strategies-replaced"
        | "flag.variants-replaced" => Some(MarkKind::Change),
        _ => None,
    }
}

/// The chart's SVG: since an hour before the plan started (the last six hours without one).
pub async fn chart(
    conn: &mut Conn,
    project: &Project,
    env: &Environment,
    flag: &str,
    plan: Option<&PlanView>,
    now: DateTime<Utc>,
) -> AppResult<String> {
    let start = plan
        .and_then(|p| parse_stamp(&p.started_at))
        .map(|s| s - TimeDelta::hours(1))
        .unwrap_or(now - TimeDelta::hours(6))
        .min(now - TimeDelta::hours(1));
    let mut lines = Vec::new();
    let mut hours: BTreeMap<DateTime<Utc>, f64> = BTreeMap::new();
    for s in signals::evaluations(&mut *conn, env.id, &env.key, flag, start).await? {
        if !s.labels.contains_key("enabled") {
            continue;
        }
        for p in s.points {
            if let PointValue::Counter(n) = p.value {
                *hours.entry(p.at).or_default() += n as f64;
            }
        }
    }
    lines.push(Line {
        label: "evaluations per hour".into(),
        points: hours.into_iter().collect(),
    });
    if let Some(plan) = plan {
        let mut cache = PointCache::default();
        let step = ((now - start).num_seconds() / STEPS).max(60);
        for g in plan.guards.iter().map(|v| &v.guard) {
            let since = g.since(start);
            let points = cache
                .points(&mut *conn, env.id, &g.metric, &g.labels, since)
                .await?;
            let denominator = match &g.denominator {
                Some(d) => cache
                    .points(&mut *conn, env.id, d, &g.labels, since)
                    .await?
                    .to_vec(),
                None => Vec::new(),
            };
            let mut line = Line {
                label: g.metric.clone(),
                points: Vec::new(),
            };
            let mut at = start;
            while at <= now {
                if let Some(v) = g.value(&points, &denominator, at) {
                    line.points.push((at, v));
                }
                at += TimeDelta::seconds(step);
            }
            lines.push(line);
        }
    }
    let filter = Filter {
        project: Some(project.key.clone()),
        flag: Some(flag.to_string()),
        since: Some(crate::clock::stamp(start)),
        ..Filter::default()
    };
    let names = Names::with_segments(
        crate::targeting::store::segment_names_of(&mut *conn, project.id).await?,
    );
    let mut marks = Vec::new();
    for e in audit::list(&mut *conn, &filter, &None, 500, None).await? {
        if e.environment_key.as_deref() != Some(env.key.as_str()) {
            continue;
        }
        let (Some(kind), Some(at)) = (kind_of(&e.action), parse_stamp(&e.at)) else {
            continue;
        };
        let parse = |s: &Option<String>| s.as_deref().and_then(|t| serde_json::from_str(t).ok());
        let (before, after) = (parse(&e.before_json), parse(&e.after_json));
        let said: Vec<String> = crate::audit::Action::parse(&e.action)
            .map(|a| describe::entry(a, before.as_ref(), after.as_ref(), &names))
            .unwrap_or_default()
            .into_iter()
            .map(|l| l.sentence)
            .collect();
        let label = if said.is_empty() {
            e.action.clone()
        } else {
            format!("{} ({})", said.join("; "), e.actor_label)
        };
        marks.push(Mark { at, kind, label });
    }
    marks.reverse();
    let description = format!(
        "Timeline of {flag} in {}: evaluations, guard metrics and changes",
        env.key
    );
    Ok(timeline::chart(start, now, &lines, &marks, &description))
}
