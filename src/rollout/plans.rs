//! Release plans: applying a template to a flag in one environment. Creating one is proposed
//! like any change (a `release-plan` proposal, [`start_change`]): where the environment is protected the whole
//! plan becomes a change request, and [`start`] runs when it is applied; elsewhere it starts at
//! once. Every milestone is served through the targeting write path (audited, described, the
//! feed rebuilt).

use super::check::{self, PointCache};
use super::guard::{self, Guard};
use super::plan::{OnBreach, PlanDraft, State};
use super::store::{self, NewPlan, PlanRow};
use super::template::Milestone;
use super::templates;
use crate::audit::{self, Actor, NewEntry};
use crate::catalog::service::{self as catalog, Switch};
use crate::changes::service::Change;
use crate::changes::Proposal;
use crate::clock::{parse_stamp, stamp};
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::projects::{Environment, Project};
use crate::targeting::service as targeting;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

/// What `POST .../release-plan` asks for.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanRequest {
    pub template: String,
    #[serde(default)]
    pub on_breach: OnBreach,
    #[serde(default)]
    pub auto_advance: bool,
    #[serde(default)]
    pub guards: Vec<Guard>,
}

/// A stored plan, its JSON columns read.
#[derive(Debug, Clone)]
pub struct Plan {
    pub row: PlanRow,
    pub state: State,
    pub milestones: Vec<Milestone>,
    pub guards: Vec<Guard>,
    pub baselines: Vec<Option<f64>>,
    pub on_breach: OnBreach,
}

impl Plan {
    pub fn from_row(row: PlanRow) -> Plan {
        Plan {
            state: State::parse(&row.state),
            milestones: serde_json::from_str(&row.milestones).unwrap_or_default(),
            guards: serde_json::from_str(&row.guards).unwrap_or_default(),
            baselines: serde_json::from_str(&row.baselines).unwrap_or_default(),
            on_breach: if row.on_breach == "off" {
                OnBreach::Off
            } else {
                OnBreach::Previous
            },
            row,
        }
    }

    pub fn at(&self) -> usize {
        self.row.milestone.max(0) as usize
    }

    /// The audit entry's view of where the plan is.
    pub fn position(&self, at: usize) -> Value {
        json!({
            "plan": self.row.id,
            "template": self.row.template_name,
            "milestone": at,
            "milestoneName": self.milestones.get(at).map(|m| m.name.as_str()).unwrap_or(""),
            "of": self.milestones.len(),
        })
    }

    pub fn milestone_started(&self) -> Option<DateTime<Utc>> {
        parse_stamp(&self.row.milestone_started_at)
    }
}

/// The template, its segment names resolved to the project's segments, and the guards checked:
/// everything the plan will do, fixed before anybody approves it.
pub async fn prepare(conn: &mut Conn, project: &Project, req: PlanRequest) -> AppResult<PlanDraft> {
    let errors = guard::validate(&req.guards);
    if !errors.is_empty() {
        return Err(AppError::InvalidPaths(errors));
    }
    let t = templates::for_project(&mut *conn, project, req.template.trim()).await?;
    let segments = targeting::segment_names(&mut *conn, project).await?;
    let mut milestones = t.milestones.clone();
    for m in &mut milestones {
        for s in &mut m.strategies {
            for name in std::mem::take(&mut s.segment_names) {
                let id = segments
                    .iter()
                    .find(|(_, n)| n.eq_ignore_ascii_case(&name))
                    .map(|(id, _)| *id)
                    .ok_or_else(|| {
                        AppError::invalid(
                            "template",
                            format!(
                                "the template {:?} serves the segment {name:?} first, and {} has no segment of that name: create it (Segments) or pick another template",
                                t.name, project.key
                            ),
                        )
                    })?;
                s.strategy.segments.push(id as i32);
            }
        }
    }
    Ok(PlanDraft {
        template_key: t.key,
        template_name: t.name,
        milestones,
        guards: req.guards,
        on_breach: req.on_breach,
        auto_advance: req.auto_advance,
    })
}

/// The change that creates the plan, for the flag (checked live) in `env`: proposed like any
/// other (`changes::plan`, `changes::carry_out`), it starts at once, or, in a protected
/// environment, goes as a whole into the caller's change request.
pub async fn start_change<'a>(
    conn: &mut Conn,
    project: &Project,
    env: &'a Environment,
    flag_key: &'a str,
    req: PlanRequest,
) -> AppResult<Change<'a>> {
    catalog::live_flag(&mut *conn, project, flag_key).await?;
    let plan = prepare(&mut *conn, project, req).await?;
    Ok(Change {
        flag_key,
        env: Some(env),
        proposal: Proposal::ReleasePlan {
            plan: Box::new(plan),
        },
    })
}

/// Serves one milestone: its strategies, and the flag on.
pub(super) async fn serve(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    env: &Environment,
    flag_key: &str,
    milestone: &Milestone,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let drafts = milestone
        .strategies
        .iter()
        .map(|s| s.strategy.clone())
        .collect();
    targeting::replace_strategies(&mut *conn, actor, project, flag_key, env, drafts, now).await?;
    let switch = Switch {
        env,
        on: true,
        reason: None,
    };
    catalog::set_enabled(conn, actor, project, flag_key, switch, now).await?;
    Ok(())
}

pub(super) async fn event(
    conn: &mut Conn,
    plan_id: i64,
    kind: &str,
    at: usize,
    actor: &Actor,
    detail: Option<&Value>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let detail = detail.map(Value::to_string);
    store::insert_event(
        conn,
        plan_id,
        &stamp(now),
        kind,
        at as i64,
        &actor.label,
        detail.as_deref(),
    )
    .await?;
    Ok(())
}

pub(super) fn entry<'a>(
    action: audit::Action,
    project: &'a Project,
    env: &'a str,
    flag: &'a str,
) -> NewEntry<'a> {
    NewEntry::new(action, format!("flag {}/{flag} in {env}", project.key))
        .project(&project.key)
        .flag(flag)
        .environment(env)
}

/// Starts an approved (or unreviewed) plan: records each guard's baseline just before, then
/// serves the first milestone. Runs inside the write that applies the proposal.
pub async fn start(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    env: &Environment,
    flag_key: &str,
    draft: &PlanDraft,
    now: DateTime<Utc>,
) -> AppResult<i64> {
    if let Some(p) = store::plan_in_progress(&mut *conn, env.id, flag_key).await? {
        return Err(AppError::conflict(
            "release-plan-in-progress",
            format!(
                "{flag_key} already follows the release plan {} in {} ({}); stop it first",
                p.template_name, env.key, p.state
            ),
        ));
    }
    let first = draft
        .milestones
        .first()
        .ok_or_else(|| AppError::invalid("template", "the template has no milestone"))?;
    let mut cache = PointCache::default();
    let mut baselines = Vec::new();
    for g in &draft.guards {
        baselines.push(check::value(&mut *conn, &mut cache, env.id, g, now).await?);
    }
    let id = store::insert_plan(
        &mut *conn,
        &NewPlan {
            project_id: project.id,
            environment_id: env.id,
            flag_key,
            template_key: &draft.template_key,
            template_name: &draft.template_name,
            milestones: &to_text(&draft.milestones)?,
            guards: &to_text(&draft.guards)?,
            baselines: &to_text(&baselines)?,
            on_breach: draft.on_breach.as_str(),
            auto_advance: draft.auto_advance,
            started_by: &actor.label,
        },
        &stamp(now),
    )
    .await?;
    serve(&mut *conn, actor, project, env, flag_key, first, now).await?;
    let plan = plan_by_id(&mut *conn, id).await?;
    let detail = json!({ "baselines": baselines });
    event(&mut *conn, id, "started", 0, actor, Some(&detail), now).await?;
    let mut after = plan.position(0);
    after["baselines"] = json!(baselines);
    audit::append(
        &mut *conn,
        actor,
        entry(
            audit::Action::ReleasePlanStarted,
            project,
            &env.key,
            flag_key,
        )
        .after(after),
        now,
    )
    .await?;
    Ok(id)
}

pub async fn plan_by_id(conn: &mut Conn, id: i64) -> AppResult<Plan> {
    store::plan_by_id(conn, id)
        .await?
        .map(Plan::from_row)
        .ok_or_else(|| AppError::not_found(format!("there is no release plan #{id}")))
}

pub(super) fn to_text<T: serde::Serialize>(v: &T) -> AppResult<String> {
    Ok(serde_json::to_string(v).map_err(anyhow::Error::from)?)
}
