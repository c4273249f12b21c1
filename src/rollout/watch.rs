//! The guard job: every second (on the application's clock for what "now" is, like
//! `changes::scheduler`), read every running or paused plan's guards, note when a guard goes
//! over or comes back, roll back on a sustained breach, and advance a plan whose hold has passed
//! while every guard is healthy.
//!
//! A pass reads first (points shared between plans, [`PointCache`]) and then writes each
//! decision in its own transaction, re-reading the plan there: a move is a conditional update on
//! its version, so two processes running the job cannot both roll back or both advance.

use super::check::{self, GuardCheck, PointCache};
use super::guard::Status;
use super::plan::Move;
use super::plans::Plan;
use super::{rollback, steps, store};
use crate::audit::Actor;
use crate::clock::{parse_stamp, stamp, SharedClock};
use crate::db::Conn;
use crate::db::Writes;
use crate::error::AppResult;
use crate::projects::store as projects;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::time::Duration;

pub const TICK: Duration = Duration::from_secs(1);

pub fn start(writes: Writes, clock: SharedClock) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let began = std::time::Instant::now();
            match run_pass(&writes, clock.now()).await {
                // How long a pass takes, for `bench/ingest.sh` (SWITCHYARD_LOG=...watch=debug).
                Ok(pass) => tracing::debug!(
                    plans = pass.plans,
                    micros = began.elapsed().as_micros() as u64,
                    "guard pass"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "the release guard job could not check the plans")
                }
            }
        }
    });
}

/// What one plan needs after its guards were read.
#[derive(Debug)]
pub enum Decision {
    Nothing,
    /// Note when each guard went over its limit (None: it is not over).
    Note(Vec<Option<DateTime<Utc>>>),
    RollBack(Box<GuardCheck>),
    Advance,
}

/// What a pass did, for logs and the benchmark.
#[derive(Debug, Default, Clone, Copy)]
pub struct Pass {
    pub plans: usize,
    pub noted: usize,
    pub rolled_back: usize,
    pub advanced: usize,
}

/// Reads every watched plan and decides; nothing is written.
pub async fn read_pass(conn: &mut Conn, now: DateTime<Utc>) -> AppResult<Vec<(Plan, Decision)>> {
    let plans = store::watched_plans(&mut *conn).await?;
    let mut over: HashMap<i64, Vec<(i64, String)>> = HashMap::new();
    for (plan, i, s) in store::guards_over(&mut *conn).await? {
        over.entry(plan).or_default().push((i, s));
    }
    let plans: Vec<Plan> = plans.into_iter().map(Plan::from_row).collect();
    let mut cache = PointCache::default();
    let mut guards = Vec::new();
    for p in &plans {
        guards.extend(p.guards.iter().map(|g| (p.row.environment_id, g)));
    }
    cache.prepare(&mut *conn, guards, now).await?;
    let mut out = Vec::with_capacity(plans.len());
    for plan in plans {
        let mut since = vec![None; plan.guards.len()];
        for (i, s) in over.remove(&plan.row.id).unwrap_or_default() {
            if let Some(slot) = since.get_mut(i as usize) {
                *slot = parse_stamp(&s);
            }
        }
        let checks = check::check(
            &mut *conn,
            &mut cache,
            plan.row.environment_id,
            &plan.guards,
            &plan.baselines,
            &since,
            now,
        )
        .await?;
        let decision = decide(&plan, &checks, &since, now);
        out.push((plan, decision));
    }
    Ok(out)
}

/// A sustained breach rolls back; a change in what is over is noted; a passed hold with every
/// guard healthy (or without data) advances.
pub fn decide(
    plan: &Plan,
    checks: &[GuardCheck],
    since: &[Option<DateTime<Utc>>],
    now: DateTime<Utc>,
) -> Decision {
    if let Some(c) = checks.iter().find(|c| c.reading.status == Status::Breached) {
        return Decision::RollBack(Box::new(c.clone()));
    }
    let over: Vec<Option<DateTime<Utc>>> = checks.iter().map(|c| c.reading.over_since).collect();
    if over != since {
        return Decision::Note(over);
    }
    let healthy = checks.iter().all(|c| !c.reading.over);
    if healthy && steps::hold_passed(plan, now) {
        return Decision::Advance;
    }
    Decision::Nothing
}

/// One pass: read, then write each decision.
pub async fn run_pass(writes: &Writes, now: DateTime<Utc>) -> AppResult<Pass> {
    let decided = {
        let mut conn = writes.db.acquire().await?;
        read_pass(&mut conn, now).await?
    };
    let mut pass = Pass {
        plans: decided.len(),
        ..Pass::default()
    };
    for (plan, decision) in decided {
        if matches!(decision, Decision::Nothing) {
            continue;
        }
        let id = plan.row.id;
        match act(writes, plan, decision, now).await {
            Ok(Some(kind)) => match kind {
                "rolled-back" => {
                    tracing::warn!(release_plan = id, "a guard was breached: rolled back");
                    pass.rolled_back += 1
                }
                "advanced" => pass.advanced += 1,
                _ => pass.noted += 1,
            },
            Ok(None) => {}
            Err(e) => tracing::warn!(release_plan = id, error = %e, "a release plan step failed"),
        }
    }
    Ok(pass)
}

/// Writes one decision, if the plan is still as it was read.
async fn act(
    writes: &Writes,
    plan: Plan,
    decision: Decision,
    now: DateTime<Utc>,
) -> AppResult<Option<&'static str>> {
    let mut tx = writes.begin().await?;
    let fresh = store::plan_by_id(&mut tx, plan.row.id).await?;
    if fresh.is_none_or(|f| f.version != plan.row.version) {
        return Ok(None);
    }
    let Some(project) = projects::project_by_key(&mut tx, &plan.row.project_key).await? else {
        return Ok(None);
    };
    let Some(env) = projects::environment(&mut tx, project.id, &plan.row.environment_key).await?
    else {
        return Ok(None);
    };
    let done = match decision {
        Decision::Nothing => None,
        Decision::Note(over) => {
            for (i, s) in over.iter().enumerate() {
                let s = s.map(stamp);
                store::set_guard_state(&mut tx, plan.row.id, i as i64, s.as_deref()).await?;
            }
            Some("noted")
        }
        Decision::RollBack(c) => rollback::roll_back(&mut tx, &project, &env, &plan, &c, now)
            .await?
            .then_some("rolled-back"),
        Decision::Advance => {
            let actor = Actor::system("release plan");
            steps::move_plan(&mut tx, &actor, &project, &env, &plan, Move::Advance, now)
                .await?
                .then_some("advanced")
        }
    };
    if done.is_some() {
        writes.commit(tx).await?;
    }
    Ok(done)
}
