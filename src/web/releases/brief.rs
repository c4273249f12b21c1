//! A release plan in brief, for the flag page's environment row and its Lifecycle tab: where it is (the milestone, of
//! how many, what it serves), when it moves next, how its guards read, and the link to its page,
//! where the whole timeline is.

use super::plan::when;
use crate::clock::parse_stamp;
use crate::rollout::guard::Status;
use crate::rollout::{PlanView, State};
use chrono::{DateTime, Utc};

#[derive(Clone)]
pub struct PlanBrief {
    pub env: String,
    pub href: String,
    /// "running", "paused", "rolled back".
    pub state: &'static str,
    /// The badge's tone: ok, warn, danger.
    pub tone: &'static str,
    pub template: String,
    pub milestone: String,
    /// The current milestone from 1, of `steps`.
    pub step: usize,
    pub steps: usize,
    /// "10 % of users", "a targeted group", "nobody (off)".
    pub serves: String,
    /// The milestone's name says it already ("10 %"): the row leaves `serves` out.
    pub serves_in_name: bool,
    /// When it moves next, or why it does not.
    pub next: String,
    pub guards: String,
    /// The guards' tone: ok, warn, danger, muted.
    pub guard_tone: &'static str,
    /// A rollback whose review an approver has yet to complete.
    pub review_open: bool,
}

impl PlanBrief {
    /// Everything the row says, in one sentence: the link's accessible name.
    pub fn label(&self) -> String {
        format!(
            "Release plan {} {}: at {} ({} of {}), serving {}; {}; {}",
            self.template,
            self.state,
            self.milestone,
            self.step,
            self.steps,
            self.serves,
            self.next,
            self.guards
        )
    }
}

pub fn of(v: &PlanView, project: &str, now: DateTime<Utc>) -> PlanBrief {
    let (state, tone) = match v.state {
        State::Paused => ("paused", "warn"),
        State::RolledBack => ("rolled back", "danger"),
        _ => ("running", "ok"),
    };
    let serves = match (v.exposure, v.state, v.on_breach) {
        (_, State::RolledBack, "off") => "nobody (off)".to_string(),
        (Some(e), _, _) => format!("{e} % of users"),
        (None, _, _) => "a targeted group".into(),
    };
    let (guards, guard_tone) = guards(v);
    let milestone = v
        .milestones
        .get(v.milestone)
        .map(|m| m.name.clone())
        .unwrap_or_default();
    let serves_in_name = v.state != State::RolledBack
        && v.exposure
            .is_some_and(|e| milestone.trim() == format!("{e} %"));
    PlanBrief {
        env: v.environment.clone(),
        href: crate::href::release_plan(project, &v.flag, &v.environment),
        state,
        tone,
        template: v.template_name.clone(),
        milestone,
        serves_in_name,
        step: v.milestone + 1,
        steps: v.milestones.len(),
        serves,
        next: next(v, now),
        guards,
        guard_tone,
        review_open: v.open_review().is_some(),
    }
}

fn next(v: &PlanView, now: DateTime<Utc>) -> String {
    let last = v.milestone + 1 >= v.milestones.len();
    match v.state {
        State::Paused => "paused: resume it to advance".into(),
        State::RolledBack => "stopped by a guard until somebody resumes it".into(),
        _ if !v.auto_advance => "advances by hand".into(),
        _ => match v.next_advance_at.as_deref() {
            Some(at) if parse_stamp(at).is_some_and(|t| t <= now) => {
                "hold passed: advances once every guard is healthy".into()
            }
            Some(at) if last => format!("completes from {}", when(at)),
            Some(at) => format!("next milestone from {}", when(at)),
            None => "advances by hand".into(),
        },
    }
}

fn guards(v: &PlanView) -> (String, &'static str) {
    let total = v.guards.len();
    if total == 0 {
        return ("no guards".into(), "muted");
    }
    let count = |of: &[Status]| v.guards.iter().filter(|g| of.contains(&g.status)).count();
    let over = count(&[Status::Breaching, Status::Breached]);
    let blind = count(&[Status::NoData, Status::NoBaseline]);
    match (total, over, blind) {
        (1, 1, _) => ("guard over its limit".into(), "danger"),
        (1, _, 1) => ("guard without data".into(), "warn"),
        (1, _, _) => ("guard healthy".into(), "ok"),
        (_, 1.., _) => (format!("{over} of {total} guards over the limit"), "danger"),
        (_, _, 1..) => (format!("{blind} of {total} guards without data"), "warn"),
        _ => (format!("{total} guards healthy"), "ok"),
    }
}
