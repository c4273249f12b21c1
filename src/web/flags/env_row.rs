//! One environment row of the flag page, also the htmx partial the switch swaps in: the switch
//! and its note, change requests under way, an unacknowledged kill, the release plan under way
//! there in brief (its page holds the timeline), and why a switch was just refused.

use super::flag_href;
use super::governance::{self, KillBanner, PendingBadge};
use super::refusal::Refusal;
use crate::authz::{Action, ProjectAccess};
use crate::catalog::service::FlagDetail;
use crate::catalog::store::EnvState;
use crate::projects::Environment;
use crate::web::releases::brief::PlanBrief;
use askama::Template;

#[derive(Template)]
#[template(path = "flags/_env_row.html")]
pub struct EnvRow {
    csrf: String,
    href: String,
    key: String,
    name: String,
    protected: bool,
    approvals: i64,
    on: bool,
    can_change: bool,
    /// Why there is no switch, or "" when there is one.
    note: &'static str,
    /// When it last changed; "" when it never did (it was created with the flag).
    updated: String,
    /// Change requests under way here.
    pending: Vec<PendingBadge>,
    /// The unacknowledged emergency kill here (its banner's id), if any.
    killed: Option<i64>,
    /// The emergency kill switch: offered where the flag is on in a protected environment.
    can_kill: bool,
    kill_href: String,
    /// The release plan under way here, if any.
    plan: Option<PlanBrief>,
    plan_href: String,
    targeting_href: String,
    /// Why the switch just did nothing (the project's gradual-start rule).
    refused: Option<String>,
}

pub(super) struct RowContext<'a> {
    pub access: &'a ProjectAccess,
    pub csrf: &'a str,
    pub flag_key: &'a str,
    pub archived: bool,
    pub pending: &'a [PendingBadge],
    pub kills: &'a [KillBanner],
    pub plans: Vec<PlanBrief>,
    pub refused: Option<Refusal>,
}

pub(super) fn env_row(
    cx: &mut RowContext<'_>,
    env: &Environment,
    state: Option<&EnvState>,
) -> EnvRow {
    let access = cx.access;
    let flag_key = cx.flag_key;
    let archived = cx.archived;
    // In a protected environment the switch proposes: the change goes into a change request.
    let can = access.can(Action::change_in(env.protected));
    let note = match (archived, can, env.protected) {
        (true, _, _) => "archived: revive the flag to change it",
        (false, true, true) => "opens a change request",
        (false, false, true) => "protected: changes go through a change request",
        (false, _, false) => "",
    };
    let on = state.is_some_and(|s| s.enabled);
    let flag = flag_href(&access.project.key, flag_key);
    let env_href = format!(
        "{flag}/environments/{}",
        crate::web::href::segment(&env.key)
    );
    let plan = cx
        .plans
        .iter()
        .position(|p| p.env == env.key)
        .map(|i| cx.plans.swap_remove(i));
    let refused = cx
        .refused
        .take_if(|r| r.env == env.key)
        // As the rule words it (it starts with the project's key, which keeps its case).
        .map(|r| format!("{}.", r.message.trim_end_matches('.')));
    EnvRow {
        csrf: cx.csrf.to_string(),
        href: format!("{env_href}/toggle"),
        can_kill: env.protected
            && on
            && !archived
            && access.can(Action::KillSwitch { protected: true }),
        kill_href: format!("{env_href}/kill"),
        key: env.key.clone(),
        name: env.name.clone(),
        protected: env.protected,
        approvals: env.required_approvals,
        on,
        can_change: can && !archived,
        note,
        // Version 1 is the row as the flag's creation made it.
        updated: state
            .filter(|s| s.version > 1)
            .map(|s| super::short_time(&s.updated_at))
            .unwrap_or_default(),
        pending: governance::pending_in(cx.pending, &env.key),
        killed: cx
            .kills
            .iter()
            .find(|k| k.environment == env.key)
            .map(|k| k.id),
        plan,
        plan_href: format!("{env_href}/plan"),
        targeting_href: format!(
            "{flag}/targeting?env={}",
            crate::web::href::segment(&env.key)
        ),
        refused,
    }
}

/// Every environment's row, in the project's order.
pub(super) fn env_rows(
    mut cx: RowContext<'_>,
    d: &FlagDetail,
    envs: &[Environment],
) -> Vec<EnvRow> {
    envs.iter()
        .map(|e| {
            let state = d.environments.iter().find(|s| s.environment_id == e.id);
            env_row(&mut cx, e, state)
        })
        .collect()
}
