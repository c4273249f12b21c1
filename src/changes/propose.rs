//! Proposing a change: the one place that decides "apply now or stage". A change to a protected
//! environment, or a flag-wide change (archiving, dependencies) that alters what a protected
//! environment serves, goes into the author's draft change request there; any other applies at
//! once. Runs inside the caller's write transaction, in two steps: [`plan`] loads what decides
//! it, and [`carry_out`] does it. What the caller must be allowed is said by the change itself
//! ([`Change::action`], before anything is loaded) and by the plan ([`Planned::action`]); the
//! transport asks the policy for both, in that order, between the steps.

use super::proposal::{apply_change, Applied, Change};
use super::queries::ChangeRequestView;
use super::stage::stage;
use super::store;
use super::Proposal;
use crate::audit::Actor;
use crate::authz::{Action, Identity};
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::projects::{store as projects, Environment, Project};
use crate::targeting::service as targeting;
use crate::targeting::{served, store as targeting_store};
use chrono::{DateTime, Utc};

/// What a proposal became.
pub enum Outcome {
    /// The environment is not protected: applied at once.
    Applied(Applied),
    /// The environment is protected: added to the caller's draft change request.
    Staged(Box<ChangeRequestView>),
}

/// A change with what decides its way loaded once: the protected environment that reviews it,
/// if any.
pub struct Planned<'a> {
    project: &'a Project,
    change: Change<'a>,
    review_in: Option<Environment>,
}

impl Planned<'_> {
    /// What carrying the change out asks of the caller: proposing a change where a protected
    /// environment reviews it; elsewhere, changing the environment directly for a switch,
    /// strategies, variants or a release plan (the flag-wide changes asked theirs up front).
    pub fn action(&self) -> Option<Action> {
        if self.review_in.is_some() {
            return Some(Action::change_in(true));
        }
        matches!(
            self.change.proposal,
            Proposal::Toggle { .. }
                | Proposal::Strategies { .. }
                | Proposal::Variants { .. }
                | Proposal::ReleasePlan { .. }
        )
        .then(|| Action::change_in(false))
    }
}

/// Loads what decides "apply now or stage": the protected environment the change would touch
/// (for a flag-wide change, by trying it in a savepoint that is rolled back).
pub async fn plan<'a>(
    conn: &mut Conn,
    project: &'a Project,
    change: Change<'a>,
    now: DateTime<Utc>,
) -> AppResult<Planned<'a>> {
    let review_in = protected_target(&mut *conn, project, &change, now).await?;
    Ok(Planned {
        project,
        change,
        review_in,
    })
}

/// The one place that decides "apply now or stage": a change to a protected environment goes
/// into the author's draft for it (whoever the author is, admins included); any other applies.
pub async fn carry_out(
    conn: &mut Conn,
    who: &Identity,
    planned: Planned<'_>,
    now: DateTime<Utc>,
) -> AppResult<Outcome> {
    let Planned {
        project,
        change,
        review_in,
    } = planned;
    let Some(env) = review_in else {
        let applied = apply_change(
            &mut *conn,
            &who.actor,
            project,
            change.env,
            change.flag_key,
            &change.proposal,
            now,
        )
        .await?;
        return Ok(Outcome::Applied(applied));
    };
    if let Proposal::Toggle { enabled: true } = change.proposal {
        gradual_start(&mut *conn, who, project, &env, change.flag_key).await?;
    }
    let view = stage(&mut *conn, who, project, &env, change, now).await?;
    Ok(Outcome::Staged(Box::new(view)))
}

/// Plans and carries out a change inside a command that asked the policy for `asked` already
/// (a copy, a bulk archive). A change that would need anything else is a fault, not a refusal.
pub(super) async fn propose_asked(
    conn: &mut Conn,
    who: &Identity,
    project: &Project,
    change: Change<'_>,
    asked: &[Action],
    now: DateTime<Utc>,
) -> AppResult<Outcome> {
    let first = change.action();
    let planned = plan(&mut *conn, project, change, now).await?;
    if let Some(need) = first
        .into_iter()
        .chain(planned.action())
        .find(|a| !asked.contains(a))
    {
        return Err(AppError::Internal(anyhow::anyhow!(
            "a change needs {need:?}, which its command did not ask"
        )));
    }
    carry_out(conn, who, planned, now).await
}

/// Where the project asks for it (`rollout` settings), switching a flag on in a protected
/// environment must not serve everyone at once: the strategies it would serve (the live ones, or
/// those the caller's draft already changes) must start below 100 %, or a release plan is used.
async fn gradual_start(
    conn: &mut Conn,
    who: &Identity,
    project: &Project,
    env: &Environment,
    flag_key: &str,
) -> AppResult<()> {
    if !crate::rollout::templates::require_gradual(&mut *conn, project).await? {
        return Ok(());
    }
    let live = targeting::targeting(&mut *conn, project, flag_key, env).await?;
    let mut strategies = live.strategy_drafts().unwrap_or_default();
    if let Some(draft) = store::draft_of(&mut *conn, env.id, who.user.id).await? {
        for item in store::items_of(&mut *conn, draft).await? {
            if item.kind == "strategies" && item.flag_key.as_deref() == Some(flag_key) {
                if let Ok(Proposal::Strategies { strategies: s }) =
                    serde_json::from_str(&item.payload)
                {
                    strategies = s;
                }
            }
        }
    }
    if crate::rollout::template::serves_everyone(&strategies) {
        return Err(AppError::conflict(
            "gradual-start-required",
            format!(
                "{} requires a gradual start in protected environments: switching {flag_key} on in {} would serve everyone at once; start a release plan, or propose a rollout below 100 % first",
                project.key, env.key
            ),
        ));
    }
    Ok(())
}

/// The protected environment a change would touch, if any. A flag-wide change (archiving,
/// dependencies) touches every environment where it alters what is served; of the protected
/// ones, the request goes to the one that asks the most approvals.
async fn protected_target(
    conn: &mut Conn,
    project: &Project,
    change: &Change<'_>,
    now: DateTime<Utc>,
) -> AppResult<Option<Environment>> {
    match &change.proposal {
        Proposal::Toggle { .. }
        | Proposal::Strategies { .. }
        | Proposal::Variants { .. }
        | Proposal::ReleasePlan { .. }
        | Proposal::Protection { .. } => {
            let env = change
                .env
                .ok_or_else(|| AppError::invalid("environment", "name the environment"))?;
            Ok(env.protected.then(|| env.clone()))
        }
        Proposal::Archive { .. } | Proposal::Dependencies { .. } => {
            let changed = served_changes(&mut *conn, project, change, now).await?;
            Ok(projects::environments(&mut *conn, project.id)
                .await?
                .into_iter()
                .filter(|e| e.protected && changed.contains(&e.key))
                .max_by_key(|e| (e.required_approvals, std::cmp::Reverse(e.sort_order))))
        }
        Proposal::Segment { id, .. } => {
            let used = targeting::segment_usage(&mut *conn, project, *id).await?;
            match used.into_iter().find(|u| u.protected) {
                Some(u) => Ok(projects::environment(conn, project.id, &u.environment).await?),
                None => Ok(None),
            }
        }
    }
}

/// The environments where a flag-wide change alters what is served: what the flag and the
/// flags depending on it serve, read before and after trying the change in a savepoint that
/// is rolled back.
async fn served_changes(
    conn: &mut Conn,
    project: &Project,
    change: &Change<'_>,
    now: DateTime<Utc>,
) -> AppResult<Vec<String>> {
    let envs = projects::environments(&mut *conn, project.id).await?;
    let mut keys = vec![change.flag_key.to_string()];
    keys.extend(targeting_store::children_of(&mut *conn, project.id, change.flag_key).await?);
    let before = served::read(&mut *conn, project, &envs, &keys).await?;
    let mut dry = conn.begin().await?;
    let actor = Actor::system("review check");
    let tried = apply_change(
        &mut dry,
        &actor,
        project,
        None,
        change.flag_key,
        &change.proposal,
        now,
    )
    .await;
    let after = match tried {
        Ok(_) => served::read(&mut dry, project, &envs, &keys).await,
        Err(e) => {
            dry.rollback().await?;
            return Err(e);
        }
    };
    dry.rollback().await?;
    Ok(served::changed(&before, &after?))
}
