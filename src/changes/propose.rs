//! Proposing a change: the one place that decides "apply now or stage". A change to a protected
//! environment, or a flag-wide change (archiving, dependencies) that alters what a protected
//! environment serves, goes into the author's draft change request there; any other applies at
//! once. Runs inside the caller's write transaction.

use super::queries::{not_found, target, view, ChangeRequestView};
use super::store::{self, NewItem};
use super::Proposal;
use crate::audit::{self, Actor, NewEntry};
use crate::authz::{Action, ProjectAccess};
use crate::catalog::service::{self as catalog, FlagDetail, Switch};
use crate::clock::stamp;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::projects::{store as projects, Environment, Project};
use crate::targeting::service::{self as targeting, DependenciesSet, SegmentView, Targeting};
use crate::targeting::{served, store as targeting_store};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

/// A change somebody asks for in one project.
pub struct Change<'a> {
    pub flag_key: &'a str,
    /// The environment of on/off, strategies and variants; `None` for archive and segments,
    /// whose environment is where they are live.
    pub env: Option<&'a Environment>,
    pub proposal: Proposal,
}

/// What a proposal became.
pub enum Outcome {
    /// The environment is not protected: applied at once.
    Applied(Applied),
    /// The environment is protected: added to the caller's draft change request.
    Staged(Box<ChangeRequestView>),
}

/// The result of applying one change, in the shape its direct route answers.
pub enum Applied {
    Toggle {
        changed: bool,
    },
    Targeting(Targeting),
    Flag(Box<FlagDetail>),
    Segment(SegmentView),
    Dependencies(DependenciesSet),
    Protection,
    /// A release plan started: its id.
    ReleasePlan(i64),
}

/// The one place that decides "apply now or stage": a change to a protected environment goes
/// into the author's draft for it (whoever the author is, admins included); any other applies.
pub async fn propose(
    conn: &mut Conn,
    access: &ProjectAccess,
    change: Change<'_>,
    now: DateTime<Utc>,
) -> AppResult<Outcome> {
    let project = &access.project;
    match &change.proposal {
        Proposal::Archive { .. } => access.require(Action::ArchiveFlag)?,
        Proposal::Segment { .. } | Proposal::Dependencies { .. } => {
            access.require(Action::EditFlag)?
        }
        _ => {}
    }
    let Some(env) = protected_target(&mut *conn, project, &change, now).await? else {
        if matches!(
            change.proposal,
            Proposal::Toggle { .. }
                | Proposal::Strategies { .. }
                | Proposal::Variants { .. }
                | Proposal::ReleasePlan { .. }
        ) {
            access.require(Action::change_in(false))?;
        }
        let applied = apply_change(
            &mut *conn,
            access.actor(),
            project,
            change.env,
            change.flag_key,
            &change.proposal,
            now,
        )
        .await?;
        return Ok(Outcome::Applied(applied));
    };
    access.require(Action::change_in(true))?;
    if let Proposal::Toggle { enabled: true } = change.proposal {
        gradual_start(&mut *conn, access, &env, change.flag_key).await?;
    }
    let view = stage(&mut *conn, access, &env, change, now).await?;
    Ok(Outcome::Staged(Box::new(view)))
}

/// Where the project asks for it (`rollout` settings), switching a flag on in a protected
/// environment must not serve everyone at once: the strategies it would serve (the live ones, or
/// those the caller's draft already changes) must start below 100 %, or a release plan is used.
async fn gradual_start(
    conn: &mut Conn,
    access: &ProjectAccess,
    env: &Environment,
    flag_key: &str,
) -> AppResult<()> {
    let project = &access.project;
    if !crate::rollout::templates::require_gradual(&mut *conn, project).await? {
        return Ok(());
    }
    let live = targeting::targeting(&mut *conn, project, flag_key, env).await?;
    let mut strategies = live.strategy_drafts().unwrap_or_default();
    if let Some(draft) = store::draft_of(&mut *conn, env.id, access.identity.user.id).await? {
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
pub(super) async fn protected_target(
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
pub(super) async fn served_changes(
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

/// Applies one change through the domain services (which validate and audit it).
pub(super) async fn apply_change(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    env: Option<&Environment>,
    flag_key: &str,
    proposal: &Proposal,
    now: DateTime<Utc>,
) -> AppResult<Applied> {
    let need_env = || env.ok_or_else(|| AppError::invalid("environment", "name the environment"));
    Ok(match proposal {
        Proposal::Toggle { enabled } => {
            let switch = Switch {
                env: need_env()?,
                on: *enabled,
                reason: None,
            };
            let changed = catalog::set_enabled(conn, actor, project, flag_key, switch, now).await?;
            Applied::Toggle { changed }
        }
        Proposal::Strategies { strategies } => Applied::Targeting(
            targeting::replace_strategies(
                conn,
                actor,
                project,
                flag_key,
                need_env()?,
                strategies.clone(),
                now,
            )
            .await?,
        ),
        Proposal::Variants { variants } => Applied::Targeting(
            targeting::replace_variants(
                conn,
                actor,
                project,
                flag_key,
                need_env()?,
                variants.clone(),
                now,
            )
            .await?,
        ),
        Proposal::Archive { note } => Applied::Flag(Box::new(
            catalog::archive(conn, actor, project, flag_key, note, now).await?,
        )),
        Proposal::Dependencies { dependencies } => Applied::Dependencies(
            targeting::set_dependencies(conn, actor, project, flag_key, dependencies.clone(), now)
                .await?,
        ),
        Proposal::Segment { id, segment } => Applied::Segment(
            targeting::update_segment(conn, actor, project, *id, segment.clone(), now).await?,
        ),
        Proposal::ReleasePlan { plan } => Applied::ReleasePlan(
            crate::rollout::plans::start(conn, actor, project, need_env()?, flag_key, plan, now)
                .await?,
        ),
        Proposal::Protection {
            protected,
            required_approvals,
        } => {
            // The environment as it is now, not as it was when the change was proposed.
            let env = projects::environment(&mut *conn, project.id, &need_env()?.key)
                .await?
                .ok_or_else(|| AppError::not_found("the environment no longer exists"))?;
            crate::projects::service::set_protection(
                conn,
                actor,
                project,
                &env,
                *protected,
                *required_approvals,
                now,
            )
            .await?;
            Applied::Protection
        }
    })
}

/// The live state of what a proposal changes: its version and a view for before/after.
pub(super) async fn live_state(
    conn: &mut Conn,
    project: &Project,
    env: &Environment,
    flag_key: &str,
    proposal: &Proposal,
    now: DateTime<Utc>,
) -> AppResult<(i64, Value)> {
    Ok(match proposal {
        Proposal::Toggle { .. }
        | Proposal::Strategies { .. }
        | Proposal::Variants { .. }
        | Proposal::ReleasePlan { .. } => {
            let t = targeting::targeting(conn, project, flag_key, env).await?;
            let view = match proposal {
                Proposal::Toggle { .. } => json!({ "enabled": t.enabled }),
                Proposal::Strategies { .. } => json!({ "strategies": t.strategies }),
                Proposal::ReleasePlan { .. } => {
                    json!({ "enabled": t.enabled, "strategies": t.strategies })
                }
                _ => json!({ "variants": t.variants }),
            };
            (t.version, view)
        }
        Proposal::Archive { .. } => {
            let d = catalog::detail(conn, project, flag_key, now).await?;
            (
                d.flag.version,
                json!({ "archived": d.flag.archived_at.is_some() }),
            )
        }
        Proposal::Dependencies { .. } => {
            let version = store::flag_version(&mut *conn, project.id, flag_key)
                .await?
                .ok_or_else(|| catalog::flag_not_found(project, flag_key))?;
            let deps = targeting::dependencies(conn, project, flag_key).await?;
            (version, json!({ "dependencies": deps }))
        }
        Proposal::Segment { id, .. } => {
            let s = targeting::segment(conn, project, *id).await?;
            (
                s.version,
                json!({"name": s.name, "description": s.description, "constraints": s.constraints}),
            )
        }
        Proposal::Protection { .. } => (
            projects::protection_version(conn, env.id)
                .await?
                .unwrap_or_default(),
            protection_view(env.protected, env.required_approvals),
        ),
    })
}

pub(super) fn protection_view(protected: bool, required_approvals: i64) -> Value {
    json!({ "protected": protected, "requiredApprovals": required_approvals })
}

pub(super) fn after_view(applied: &Applied) -> Value {
    match applied {
        Applied::Toggle { .. } => Value::Null,
        Applied::Targeting(t) => json!({ "strategies": t.strategies, "variants": t.variants }),
        Applied::Flag(_) => json!({ "archived": true }),
        Applied::Segment(s) => {
            json!({"name": s.name, "description": s.description, "constraints": s.constraints})
        }
        Applied::Dependencies(d) => {
            json!({ "dependencies": d.dependencies, "environments": d.environments })
        }
        Applied::Protection => Value::Null,
        Applied::ReleasePlan(id) => json!({ "releasePlan": id }),
    }
}

pub(super) fn after_of(proposal: &Proposal, applied: &Applied) -> Value {
    match (proposal, applied) {
        (Proposal::Toggle { enabled }, _) => json!({ "enabled": enabled }),
        (Proposal::Strategies { .. }, Applied::Targeting(t)) => {
            json!({ "strategies": t.strategies })
        }
        (Proposal::Variants { .. }, Applied::Targeting(t)) => json!({ "variants": t.variants }),
        // What the environment serves once the plan starts: its first milestone, switched on.
        (Proposal::ReleasePlan { plan }, _) => {
            let first: Vec<_> = plan
                .milestones
                .first()
                .map(|m| m.strategies.iter().map(|s| &s.strategy).collect())
                .unwrap_or_default();
            json!({ "plan": plan, "enabled": true, "strategies": first })
        }
        (
            Proposal::Protection {
                protected,
                required_approvals,
            },
            _,
        ) => protection_view(*protected, *required_approvals),
        _ => after_view(applied),
    }
}

pub(super) fn to_text<T: Serialize>(v: &T) -> AppResult<String> {
    Ok(serde_json::to_string(v).map_err(anyhow::Error::from)?)
}

/// Adds the change to the caller's draft for `env` (creating it), after a dry run that
/// validates it exactly as applying would (then rolled back).
pub(super) async fn stage(
    conn: &mut Conn,
    access: &ProjectAccess,
    env: &Environment,
    change: Change<'_>,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let project = &access.project;
    let user = &access.identity.user;
    let flag_key = match &change.proposal {
        Proposal::Segment { .. } | Proposal::Protection { .. } => None,
        _ => Some(change.flag_key),
    };
    let segment_id = match &change.proposal {
        Proposal::Segment { id, .. } => Some(*id),
        _ => None,
    };
    let (base_version, before) = live_state(
        &mut *conn,
        project,
        env,
        change.flag_key,
        &change.proposal,
        now,
    )
    .await?;
    let after = {
        let mut dry = conn.begin().await?;
        let tried = apply_change(
            &mut dry,
            access.actor(),
            project,
            Some(env),
            change.flag_key,
            &change.proposal,
            now,
        )
        .await;
        dry.rollback().await?;
        after_of(&change.proposal, &tried?)
    };
    let at = stamp(now);
    let id = match store::draft_of(&mut *conn, env.id, user.id).await? {
        Some(id) => id,
        None => {
            store::insert_request(&mut *conn, project.id, env.id, (user.id, &user.email), &at)
                .await?
        }
    };
    let kind = change.proposal.kind();
    let payload = to_text(&change.proposal)?;
    let after_text = to_text(&after)?;
    match store::item_like(&mut *conn, id, kind, flag_key, segment_id).await? {
        Some(item) => store::replace_item(&mut *conn, item, &payload, &after_text).await?,
        None => {
            let item = NewItem {
                kind,
                flag_key,
                segment_id,
                payload: &payload,
                base_version,
                before_json: &to_text(&before)?,
                after_json: &after_text,
            };
            store::insert_item(&mut *conn, id, &item, &at).await?;
        }
    }
    store::touch(&mut *conn, id, &at).await?;
    let summary = change.proposal.summary(flag_key);
    let mut entry = NewEntry::new(
        audit::Action::ChangeRequestChangeAdded,
        target(id, project, env),
    )
    .project(&project.key)
    .environment(&env.key)
    .before(json!({ "changeRequest": id, "change": kind, "state": before }))
    .after(json!({ "changeRequest": id, "change": kind, "summary": summary, "state": after }));
    if let Some(f) = flag_key {
        entry = entry.flag(f);
    }
    audit::append(&mut *conn, access.actor(), entry, now).await?;
    let row = store::request_by_id(&mut *conn, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    view(&mut *conn, row).await
}
