//! Moving a plan: advancing (by hand, or by the job once the hold has passed and every guard is
//! healthy), pausing, resuming, stopping. A move is a conditional update on the plan's version,
//! so of two processes running the job only one advances; the loser changes nothing.

use super::plan::{self, Move, State};
use super::plans::{entry, event, plan_by_id, serve, Plan};
use super::store;
use crate::audit::{self, Actor};
use crate::clock::stamp;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::projects::{Environment, Project};
use chrono::{DateTime, TimeDelta, Utc};

/// The plan in progress of a flag in an environment.
pub async fn in_progress(
    conn: &mut Conn,
    project: &Project,
    env: &Environment,
    flag_key: &str,
) -> AppResult<Plan> {
    store::plan_in_progress(conn, env.id, flag_key)
        .await?
        .map(Plan::from_row)
        .ok_or_else(|| {
            AppError::not_found(format!(
                "{flag_key} has no release plan in progress in {}/{}",
                project.key, env.key
            ))
        })
}

/// The flag's latest plan in the environment (in progress or finished): where the reviews of
/// its rollbacks are completed, even after it was resumed and completed.
pub async fn latest(
    conn: &mut Conn,
    project: &Project,
    env: &Environment,
    flag_key: &str,
) -> AppResult<Plan> {
    store::latest_plan(conn, env.id, flag_key)
        .await?
        .map(Plan::from_row)
        .ok_or_else(|| {
            AppError::not_found(format!(
                "{flag_key} has no release plan in {}/{}",
                project.key, env.key
            ))
        })
}

/// A person's move. In a protected environment too: the milestones were approved with the plan.
/// The caller asked the policy for `Action::StepReleasePlan`.
pub async fn step(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    env: &Environment,
    flag_key: &str,
    m: Move,
    now: DateTime<Utc>,
) -> AppResult<Plan> {
    let plan = in_progress(&mut *conn, project, env, flag_key).await?;
    if !move_plan(&mut *conn, actor, project, env, &plan, m, now).await? {
        return Err(AppError::conflict(
            "release-plan-moved",
            "the plan moved meanwhile (its guard job, or somebody else); reload it",
        ));
    }
    plan_by_id(conn, plan.row.id).await
}

/// Whether the plan may advance on its own now: running, set to, its hold passed.
pub fn hold_passed(plan: &Plan, now: DateTime<Utc>) -> bool {
    let hold = plan.milestones.get(plan.at()).map_or(0, |m| m.hold_minutes);
    plan.state == State::Running
        && plan.row.auto_advance
        && plan
            .milestone_started()
            .is_some_and(|s| now - s >= TimeDelta::minutes(hold))
}

/// Applies a move from the state `plan` was read in; false when somebody moved it since.
pub(super) async fn move_plan(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    env: &Environment,
    plan: &Plan,
    m: Move,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    let from = plan.at();
    let (state, at) = plan::decide(plan.state, m, from, plan.milestones.len())
        .map_err(|why| AppError::conflict("release-plan-state", why))?;
    let serves_anew = (m == Move::Advance && state != State::Completed)
        || (m == Move::Resume && plan.state == State::RolledBack);
    let started = if serves_anew {
        stamp(now)
    } else {
        plan.row.milestone_started_at.clone()
    };
    let ended = matches!(state, State::Completed | State::Cancelled).then(|| stamp(now));
    let moved = store::move_plan(
        &mut *conn,
        plan.row.id,
        plan.row.version,
        state.as_str(),
        at as i64,
        &started,
        ended.as_deref(),
    )
    .await?;
    if !moved {
        return Ok(false);
    }
    let flag = &plan.row.flag_key;
    if serves_anew {
        if let Some(milestone) = plan.milestones.get(at) {
            serve(&mut *conn, actor, project, env, flag, milestone, now).await?;
        }
        store::clear_guard_states(&mut *conn, plan.row.id).await?;
    }
    let (kind, action) = match (m, state) {
        (Move::Advance, State::Completed) => ("completed", audit::Action::ReleasePlanCompleted),
        (Move::Advance, _) => ("advanced", audit::Action::ReleasePlanAdvanced),
        (Move::Pause, _) => ("paused", audit::Action::ReleasePlanPaused),
        (Move::Resume, _) => ("resumed", audit::Action::ReleasePlanResumed),
        (Move::Cancel, _) => ("cancelled", audit::Action::ReleasePlanCancelled),
    };
    event(&mut *conn, plan.row.id, kind, at, actor, None, now).await?;
    audit::append(
        &mut *conn,
        actor,
        entry(action, project, &env.key, flag)
            .before(plan.position(from))
            .after(plan.position(at)),
        now,
    )
    .await?;
    Ok(true)
}
