//! One proposed change: what it is (as stored in a change request's item), the change somebody
//! asks for with it, applying it through the domain services, the live state it changes, and
//! the before/after views a request shows.

use super::store;
use crate::audit::Actor;
use crate::authz::Action;
use crate::catalog::service::{self as catalog, FlagDetail, Switch};
use crate::catalog::ArchiveNote;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::evaluation::{StrategyDraft, VariantDraft};
use crate::projects::{store as projects, Environment, Project};
use crate::targeting::service::{
    self as targeting, DependenciesSet, DependencyDraft, SegmentDraft, SegmentView, Targeting,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One proposed change, as stored in an item's payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Proposal {
    Toggle {
        enabled: bool,
    },
    Strategies {
        strategies: Vec<StrategyDraft>,
    },
    Variants {
        variants: Vec<VariantDraft>,
    },
    /// Retiring the flag, with the outcome and reason to record.
    Archive {
        #[serde(default)]
        note: ArchiveNote,
    },
    /// A flag's parents: they apply in every environment, so the request goes to a protected
    /// environment where the flag would serve something else.
    Dependencies {
        dependencies: Vec<DependencyDraft>,
    },
    Segment {
        id: i64,
        segment: SegmentDraft,
    },
    /// Lowering the environment's protection (lifting it, or asking fewer approvals): it
    /// decides how every later change there is reviewed, so it is reviewed itself.
    /// Starting a release plan: in a protected environment the whole plan (every milestone,
    /// guard and what a breach does) is approved once; its milestones then advance without
    /// another review, only within what was approved.
    ReleasePlan {
        plan: Box<crate::rollout::plan::PlanDraft>,
    },
    #[serde(rename_all = "camelCase")]
    Protection {
        protected: bool,
        required_approvals: i64,
    },
}

impl Proposal {
    /// True for a change that lowers how the environment is protected: its reviewers must be
    /// people who could set the protection themselves.
    pub fn lowers_protection(&self) -> bool {
        matches!(self, Proposal::Protection { .. })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Proposal::Toggle { .. } => "toggle",
            Proposal::Strategies { .. } => "strategies",
            Proposal::Variants { .. } => "variants",
            Proposal::Archive { .. } => "archive",
            Proposal::Segment { .. } => "segment",
            Proposal::Dependencies { .. } => "dependencies",
            Proposal::Protection { .. } => "protection",
            Proposal::ReleasePlan { .. } => "release-plan",
        }
    }

    /// A short sentence for lists and the audit log.
    pub fn summary(&self, flag: Option<&str>) -> String {
        let flag = flag.unwrap_or("?");
        match self {
            Proposal::Toggle { enabled: true } => format!("switch {flag} on"),
            Proposal::Toggle { enabled: false } => format!("switch {flag} off"),
            Proposal::Strategies { strategies } => format!(
                "replace the strategies of {flag} ({} strateg{})",
                strategies.len(),
                if strategies.len() == 1 { "y" } else { "ies" }
            ),
            Proposal::Variants { variants } => format!(
                "replace the variants of {flag} ({} variant{})",
                variants.len(),
                if variants.len() == 1 { "" } else { "s" }
            ),
            Proposal::Archive { note } => match (&note.outcome, &note.reason) {
                (None, None) => format!("archive {flag}"),
                (outcome, reason) => format!(
                    "archive {flag} ({})",
                    [outcome.as_deref(), reason.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(": ")
                ),
            },
            Proposal::Dependencies { dependencies } if dependencies.is_empty() => {
                format!("remove the dependencies of {flag}")
            }
            Proposal::Dependencies { dependencies } => format!(
                "make {flag} depend on {}",
                dependencies
                    .iter()
                    .map(|d| d.feature.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Proposal::Segment { segment, .. } => format!("change the segment {}", segment.name),
            Proposal::ReleasePlan { plan } => format!(
                "release {flag} with the plan {} ({} milestones)",
                plan.template_name,
                plan.milestones.len()
            ),
            Proposal::Protection {
                protected: false, ..
            } => "lift the environment's protection".to_string(),
            Proposal::Protection {
                required_approvals: n,
                ..
            } => format!(
                "require {n} approval{} for changes here",
                if *n == 1 { "" } else { "s" }
            ),
        }
    }
}

/// A change somebody asks for in one project.
pub struct Change<'a> {
    pub flag_key: &'a str,
    /// The environment of on/off, strategies and variants; `None` for archive and segments,
    /// whose environment is where they are live.
    pub env: Option<&'a Environment>,
    pub proposal: Proposal,
}

impl Change<'_> {
    /// What the caller must be allowed before anything is loaded for the change: archiving the
    /// flag, or editing it (its dependencies) or a segment. `None` where only the environment
    /// it lands in decides (`Planned::action`).
    pub fn action(&self) -> Option<Action> {
        match self.proposal {
            Proposal::Archive { .. } => Some(Action::ArchiveFlag),
            Proposal::Segment { .. } | Proposal::Dependencies { .. } => Some(Action::EditFlag),
            _ => None,
        }
    }
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

fn protection_view(protected: bool, required_approvals: i64) -> Value {
    json!({ "protected": protected, "requiredApprovals": required_approvals })
}

fn after_view(applied: &Applied) -> Value {
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
