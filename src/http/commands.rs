//! The governed commands whose permission depends on what they load, as web and API handlers
//! call them. The domain plans each (loading what decides it once) and says which
//! `authz::Action` that takes; here the caller's access asks the policy for it; then the domain
//! carries it out. Permissions are asked in the transports only (`tests/it/architecture.rs`).

use crate::authz::{Identity, ProjectAccess};
use crate::changes::bulk::{self, BulkAction, BulkReport, FlagResult};
use crate::changes::service::{self as changes, Change, Copied, KillView, Outcome};
use crate::changes::service::{ProtectionChange, ProtectionOutcome};
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::projects::Environment;
use crate::rollout::plans::{self, PlanRequest};
use chrono::{DateTime, Utc};

/// A change to a flag, its targeting or a segment: applied at once, or staged into the caller's
/// draft change request where a protected environment reviews it.
pub async fn propose(
    conn: &mut Conn,
    access: &ProjectAccess,
    change: Change<'_>,
    now: DateTime<Utc>,
) -> AppResult<Outcome> {
    if let Some(first) = change.action() {
        access.require(first)?;
    }
    let planned = changes::plan(&mut *conn, &access.project, change, now).await?;
    if let Some(action) = planned.action() {
        access.require(action)?;
    }
    changes::carry_out(conn, &access.identity, planned, now).await
}

/// Starting a release plan: a change proposed like any other.
pub async fn start_release_plan(
    conn: &mut Conn,
    access: &ProjectAccess,
    env: &Environment,
    flag_key: &str,
    req: PlanRequest,
    now: DateTime<Utc>,
) -> AppResult<Outcome> {
    let change = plans::start_change(&mut *conn, &access.project, env, flag_key, req).await?;
    propose(conn, access, change, now).await
}

/// Copying a flag's targeting from one environment to another.
pub async fn copy_targeting(
    conn: &mut Conn,
    access: &ProjectAccess,
    flag_key: &str,
    from: &Environment,
    to: &Environment,
    now: DateTime<Utc>,
) -> AppResult<Copied> {
    let copy = changes::plan_copy(&mut *conn, &access.project, flag_key, from, to).await?;
    access.require(copy.action())?;
    changes::copy_targeting(conn, &access.identity, &access.project, copy, now).await
}

/// One action on many flags of the catalog.
pub async fn bulk(
    conn: &mut Conn,
    access: &ProjectAccess,
    keys: &[String],
    action: BulkAction,
    now: DateTime<Utc>,
) -> AppResult<BulkReport> {
    for asked in action.actions() {
        access.require(asked)?;
    }
    let plan = bulk::plan(&mut *conn, &access.project, keys, action).await?;
    for asked in plan.actions() {
        access.require(asked)?;
    }
    bulk::carry_out(conn, &access.identity, &access.project, plan, now).await
}

/// What one project of a cross-project bulk action did with its flags.
pub struct ProjectReport {
    pub project: String,
    pub report: BulkReport,
}

/// One action on flags of several projects (the cross-project catalog), each given as
/// `(project, key)`. Every project decides for its own flags, by the caller's role there, as its
/// catalog would: a project that refuses the action (not a member, a viewer, no such
/// environment) is reported for each of its flags and the others go on. Input that is bad for
/// every project (no flags, no tag) refuses the whole, with nothing changed.
pub async fn bulk_across(
    conn: &mut Conn,
    identity: &Identity,
    picks: &[(String, String)],
    action: BulkAction,
    now: DateTime<Utc>,
) -> AppResult<Vec<ProjectReport>> {
    let all: Vec<String> = picks.iter().map(|(p, k)| format!("{p}/{k}")).collect();
    bulk::checked_keys(&all)?;
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for (project, key) in picks {
        match groups.iter_mut().find(|(p, _)| p == project) {
            Some((_, keys)) => keys.push(key.clone()),
            None => groups.push((project.clone(), vec![key.clone()])),
        }
    }
    let mut out = Vec::new();
    for (project, keys) in groups {
        let report = match one_project(conn, identity, &project, &keys, &action, now).await {
            Ok(report) => report,
            Err(e @ (AppError::Forbidden(_) | AppError::NotFound(_))) => BulkReport {
                results: keys.iter().map(|k| FlagResult::refused(k, &e)).collect(),
            },
            Err(e) => return Err(e),
        };
        out.push(ProjectReport { project, report });
    }
    Ok(out)
}

async fn one_project(
    conn: &mut Conn,
    identity: &Identity,
    project: &str,
    keys: &[String],
    action: &BulkAction,
    now: DateTime<Utc>,
) -> AppResult<BulkReport> {
    let access = ProjectAccess::load(&mut *conn, identity.clone(), project).await?;
    bulk(conn, &access, keys, action.clone(), now).await
}

/// Setting an environment's protection: raised at once, lowered through a change request.
pub async fn set_protection(
    conn: &mut Conn,
    access: &ProjectAccess,
    env: &Environment,
    protected: bool,
    required_approvals: i64,
    now: DateTime<Utc>,
) -> AppResult<ProtectionOutcome> {
    let asked = ProtectionChange {
        env,
        protected,
        required_approvals,
    };
    for action in asked.actions() {
        access.require(action)?;
    }
    changes::set_protection(conn, &access.identity, &access.project, asked, now).await
}

/// Acknowledging somebody else's emergency kill.
pub async fn acknowledge_kill(
    conn: &mut Conn,
    access: &ProjectAccess,
    id: i64,
    note: &str,
    now: DateTime<Utc>,
) -> AppResult<KillView> {
    let kill = changes::kill_of(&mut *conn, &access.project, id).await?;
    access.require(kill.acknowledge_action(&access.identity))?;
    changes::acknowledge_kill(conn, &access.identity, &access.project, kill, note, now).await
}
