//! The automatic rollback: a sustained breach stops the plan and puts the flag back at the
//! previous milestone, or off, at once — through the kill switch's path, never a review.
//! Audited as automatic with the evidence, told to webhooks, and left as a review record that an
//! approver completes. The plan stays stopped until a person resumes it.

use super::check::GuardCheck;
use super::plan::{self, Fallback, State};
use super::plans::{entry, event, Plan};
use super::store;
use crate::audit::describe::plans as words;
use crate::audit::{self, Actor};
use crate::authz::Identity;
use crate::changes::service as changes;
use crate::clock::stamp;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::notify;
use crate::projects::{Environment, Project};
use crate::targeting::service as targeting;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Who rolls back: the server itself.
pub const ACTOR: &str = "release guard";

/// What a breach showed: the guard, its value, baseline and limit, the window it was read over.
pub fn evidence(c: &GuardCheck, now: DateTime<Utc>) -> Value {
    let w = c.guard.window(now);
    json!({
        "guard": c.guard,
        "value": c.reading.value,
        "baseline": c.baseline,
        "limit": c.reading.limit,
        "windowStart": stamp(w.start),
        "windowEnd": stamp(w.end),
        "overSince": c.reading.over_since.map(stamp),
    })
}

/// Rolls the plan back from the state it was read in; false when somebody moved it since (the
/// other process already rolled it back, say).
pub async fn roll_back(
    conn: &mut Conn,
    project: &Project,
    env: &Environment,
    plan: &Plan,
    breached: &GuardCheck,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    if !matches!(plan.state, State::Running | State::Paused) {
        return Ok(false);
    }
    let actor = Actor::system(ACTOR);
    let fallback = plan::fallback(plan.on_breach, plan.at());
    let at = match fallback {
        Fallback::Milestone(i) => i,
        Fallback::Off => 0,
    };
    let moved = store::move_plan(
        &mut *conn,
        plan.row.id,
        plan.row.version,
        State::RolledBack.as_str(),
        at as i64,
        &stamp(now),
        None,
    )
    .await?;
    if !moved {
        return Ok(false);
    }
    let flag = &plan.row.flag_key;
    let enabled = match fallback {
        Fallback::Off => {
            changes::switch_off_at_once(&mut *conn, project, flag, env, now).await?;
            false
        }
        Fallback::Milestone(i) => {
            let drafts = plan.milestones[i]
                .strategies
                .iter()
                .map(|s| s.strategy.clone())
                .collect();
            targeting::replace_strategies(&mut *conn, &actor, project, flag, env, drafts, now)
                .await?;
            true
        }
    };
    let evidence = evidence(breached, now);
    let guard_words = words::guard(&evidence["guard"]);
    let summary = format!(
        "{guard_words}: {} against a limit of {}",
        shown(breached.reading.value),
        shown(breached.reading.limit)
    );
    let mut after = plan.position(at);
    after["enabled"] = json!(enabled);
    after["evidence"] = evidence.clone();
    after["onBreach"] = json!(plan.on_breach.as_str());
    after["automatic"] = json!(true);
    audit::append(
        &mut *conn,
        &actor,
        entry(
            audit::Action::ReleasePlanRolledBack,
            project,
            &env.key,
            flag,
        )
        .before(plan.position(plan.at()))
        .after(after)
        .reason(Some(&summary)),
        now,
    )
    .await?;
    event(
        &mut *conn,
        plan.row.id,
        "rolled-back",
        at,
        &actor,
        Some(&evidence),
        now,
    )
    .await?;
    let what = match fallback {
        Fallback::Off => format!("{flag} was switched off in {}", env.key),
        Fallback::Milestone(i) => format!(
            "{flag} went back to the milestone {} in {}",
            plan.milestones[i].name, env.key
        ),
    };
    store::insert_review(
        &mut *conn,
        plan.row.id,
        project.id,
        &format!("{what} automatically: {summary}"),
        &evidence.to_string(),
        &stamp(now),
    )
    .await?;
    store::clear_guard_states(&mut *conn, plan.row.id).await?;
    notify::rolled_back(&mut *conn, project, flag, &env.key, &actor, &summary, now).await?;
    Ok(true)
}

fn shown(v: Option<f64>) -> String {
    match v {
        Some(v) => format!("{}", (v * 10_000.0).round() / 10_000.0),
        None => "none".into(),
    }
}

/// An approver completes the review of a rollback with a note, once. The caller asked the
/// policy for `Action::ReviewRollback`.
pub async fn complete_review(
    conn: &mut Conn,
    who: &Identity,
    project: &Project,
    plan: &Plan,
    review_id: i64,
    note: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 2000 {
        return Err(AppError::invalid(
            "note",
            "say what was found and what happens next, in at most 2000 characters",
        ));
    }
    let user = &who.user;
    let at = stamp(now);
    let by = (user.id, user.email.as_str());
    if !store::complete_review(&mut *conn, review_id, plan.row.id, by, note, &at).await? {
        return Err(AppError::conflict(
            "rollback-reviewed",
            format!("the review #{review_id} is completed already, or is not this plan's"),
        ));
    }
    let flag = &plan.row.flag_key;
    let mut after = plan.position(plan.at());
    after["review"] = json!(review_id);
    after["note"] = json!(note);
    audit::append(
        &mut *conn,
        &who.actor,
        entry(
            audit::Action::ReleasePlanRollbackReviewed,
            project,
            &plan.row.environment_key,
            flag,
        )
        .after(after)
        .reason(Some(note)),
        now,
    )
    .await?;
    Ok(())
}
