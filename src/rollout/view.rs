//! A plan as the API answers it and its page shows it: state, milestones with their exposure,
//! each guard's live value against its baseline (and, after a rollback, whether it is back),
//! exposed against unexposed traffic where the samples say, the events and the reviews.

use super::check::{self, PointCache};
use super::guard::{self, Comparison, Guard, Status};
use super::plan::State;
use super::plans::Plan;
use super::store;
use super::template;
use crate::audit::describe::{plans as words, Names};
use crate::clock::{parse_stamp, stamp};
use crate::db::Conn;
use crate::error::AppResult;
use crate::evaluation::StrategyDraft;
use crate::projects::{Environment, Project};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MilestoneView {
    pub name: String,
    pub hold_minutes: i64,
    /// The share of users served, None when targeted (a segment, constraints).
    pub exposure: Option<u32>,
    pub serves: String,
    pub reached: bool,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GuardView {
    #[serde(flatten)]
    pub guard: Guard,
    pub description: String,
    pub status: Status,
    pub value: Option<f64>,
    pub baseline: Option<f64>,
    pub limit: Option<f64>,
    pub over_since: Option<String>,
    /// After a rollback: whether the metric came back to its baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub back_to_baseline: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposure: Option<Comparison>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub at: String,
    pub kind: String,
    pub milestone: i64,
    pub actor: String,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub detail: Value,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewView {
    pub id: i64,
    pub what: String,
    pub evidence: Value,
    pub rolled_back_at: String,
    pub completed_by: Option<String>,
    pub completed_at: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanView {
    pub id: i64,
    pub flag: String,
    pub environment: String,
    pub template: String,
    pub template_name: String,
    pub state: State,
    /// The current milestone, from 0.
    pub milestone: usize,
    pub milestones: Vec<MilestoneView>,
    /// What the current milestone exposes (None: targeted, or off after a rollback to off).
    pub exposure: Option<u32>,
    pub on_breach: &'static str,
    pub auto_advance: bool,
    pub started_at: String,
    pub started_by: String,
    pub milestone_started_at: String,
    /// When the hold of the current milestone ends (auto-advancing plans that are running).
    pub next_advance_at: Option<String>,
    pub guards: Vec<GuardView>,
    pub events: Vec<EventView>,
    pub reviews: Vec<ReviewView>,
}

impl PlanView {
    pub fn open_review(&self) -> Option<&ReviewView> {
        self.reviews.iter().find(|r| r.completed_at.is_none())
    }
}

fn drafts(m: &template::Milestone) -> Vec<StrategyDraft> {
    m.strategies.iter().map(|s| s.strategy.clone()).collect()
}

/// The plan as it stands at `now`, its guards read live.
pub async fn view(
    conn: &mut Conn,
    plan: &Plan,
    names: &Names,
    now: DateTime<Utc>,
) -> AppResult<PlanView> {
    let at = plan.at();
    let milestones: Vec<MilestoneView> = plan
        .milestones
        .iter()
        .enumerate()
        .map(|(i, m)| MilestoneView {
            name: m.name.clone(),
            hold_minutes: m.hold_minutes,
            exposure: template::exposure(&drafts(m)),
            serves: words::milestone_serves(&serde_json::to_value(m).unwrap_or_default(), names),
            reached: i < at
                || (i == at && plan.state != State::RolledBack)
                || plan.state == State::Completed,
            current: i == at,
        })
        .collect();
    let mut since = vec![None; plan.guards.len()];
    for (i, s) in store::guard_states(&mut *conn, plan.row.id).await? {
        if let Some(slot) = since.get_mut(i as usize) {
            *slot = s.as_deref().and_then(parse_stamp);
        }
    }
    let mut cache = PointCache::default();
    let env_id = plan.row.environment_id;
    let checks = check::check(
        &mut *conn,
        &mut cache,
        env_id,
        &plan.guards,
        &plan.baselines,
        &since,
        now,
    )
    .await?;
    let mut guards = Vec::new();
    for (i, c) in checks.into_iter().enumerate() {
        let exposure = check::exposure(&mut *conn, &mut cache, env_id, &c.guard, now).await?;
        let rolled_back = plan.state == State::RolledBack;
        guards.push(GuardView {
            description: words::guard(&serde_json::to_value(&c.guard).unwrap_or_default()),
            status: c.reading.status,
            value: c.reading.value,
            baseline: c.baseline,
            limit: c.reading.limit,
            // As the guard job recorded it: a reading is over from the job's first sight of it.
            over_since: since[i].filter(|_| c.reading.over).map(stamp),
            back_to_baseline: rolled_back
                .then(|| guard::back_to_baseline(c.reading.value, c.baseline, c.reading.limit)),
            exposure,
            guard: c.guard,
        });
    }
    let events = store::events_of(&mut *conn, plan.row.id)
        .await?
        .into_iter()
        .map(|e| EventView {
            at: e.at,
            kind: e.kind,
            milestone: e.milestone,
            actor: e.actor,
            detail: e
                .detail
                .and_then(|d| serde_json::from_str(&d).ok())
                .unwrap_or(Value::Null),
        })
        .collect();
    let reviews = store::reviews_of(&mut *conn, plan.row.id)
        .await?
        .into_iter()
        .map(|r| ReviewView {
            id: r.id,
            what: r.what,
            evidence: serde_json::from_str(&r.evidence).unwrap_or(Value::Null),
            rolled_back_at: r.rolled_back_at,
            completed_by: r.completed_by,
            completed_at: r.completed_at,
            note: r.note,
        })
        .collect();
    let current = plan.milestones.get(at);
    let exposure = match (plan.state, plan.on_breach) {
        (State::RolledBack, super::plan::OnBreach::Off) => None,
        _ => current.and_then(|m| template::exposure(&drafts(m))),
    };
    let next_advance_at = match (plan.state, plan.row.auto_advance, current) {
        (State::Running, true, Some(m)) if at + 1 < plan.milestones.len() || m.hold_minutes > 0 => {
            plan.milestone_started()
                .map(|s| stamp(s + TimeDelta::minutes(m.hold_minutes)))
        }
        _ => None,
    };
    Ok(PlanView {
        id: plan.row.id,
        flag: plan.row.flag_key.clone(),
        environment: plan.row.environment_key.clone(),
        template: plan.row.template_key.clone(),
        template_name: plan.row.template_name.clone(),
        state: plan.state,
        milestone: at,
        milestones,
        exposure,
        on_breach: plan.on_breach.as_str(),
        auto_advance: plan.row.auto_advance,
        started_at: plan.row.started_at.clone(),
        started_by: plan.row.started_by.clone(),
        milestone_started_at: plan.row.milestone_started_at.clone(),
        next_advance_at,
        guards,
        events,
        reviews,
    })
}

/// The flag's latest plan in the environment (in progress or finished), if any.
pub async fn latest(
    conn: &mut Conn,
    project: &Project,
    env: &Environment,
    flag_key: &str,
    now: DateTime<Utc>,
) -> AppResult<Option<PlanView>> {
    let Some(row) = store::latest_plan(&mut *conn, env.id, flag_key).await? else {
        return Ok(None);
    };
    let names = Names::with_segments(
        crate::targeting::store::segment_names_of(&mut *conn, project.id).await?,
    );
    let plan = Plan::from_row(row);
    Ok(Some(view(conn, &plan, &names, now).await?))
}

/// The flag's plans in progress (running, paused or rolled back), at most one per environment,
/// for the flag page's environment rows. Read through the partial index of plans in progress:
/// a flag without any costs one lookup per environment.
pub async fn in_progress(
    conn: &mut Conn,
    project: &Project,
    envs: &[Environment],
    flag_key: &str,
    now: DateTime<Utc>,
) -> AppResult<Vec<PlanView>> {
    let mut plans = Vec::new();
    for env in envs {
        if let Some(row) = store::plan_in_progress(&mut *conn, env.id, flag_key).await? {
            plans.push(Plan::from_row(row));
        }
    }
    if plans.is_empty() {
        return Ok(Vec::new());
    }
    let names = Names::with_segments(
        crate::targeting::store::segment_names_of(&mut *conn, project.id).await?,
    );
    let mut out = Vec::with_capacity(plans.len());
    for plan in &plans {
        out.push(view(&mut *conn, plan, &names, now).await?);
    }
    Ok(out)
}
