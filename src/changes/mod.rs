//! Change requests: four-eyes review of changes to protected environments.
//!
//! A write to a protected environment (on/off, strategies, variants, a segment used there), or a
//! flag-wide change that alters what one serves (archiving, dependencies), does not apply:
//! [`propose`](propose::propose) puts it into the author's draft for that environment,
//! remembering the version of what it changes. The draft is submitted, approved by other people
//! (`required_approvals` of the environment), then applied — at once or by the [`scheduler`] —
//! atomically and only if nothing it changes has moved since. Lowering an environment's
//! protection is itself such a change. The emergency kill switch ([`kill`](kill::kill)) is the
//! one way around review, and leaves a record to acknowledge.
//!
//! `change_request` is the pure state machine and `store` its SQL; the operations live in one
//! module each (`propose`, `copy`, `workflow`, `edit`, `apply`, `kill`, `protection`, `queries`), every
//! one in a transaction with its audit entries, and `service` names them for the transports.

mod apply;
pub mod bulk;
pub mod change_request;
mod configurations;
mod copy;
mod edit;
mod kill;
mod propose;
mod protection;
mod queries;
pub mod scheduler;
pub mod store;
mod workflow;

/// Every operation on change requests, by the name the transports call it.
pub mod service {
    pub use super::apply::{apply, apply_scheduled};
    pub use super::configurations::{configurations, names, FlagConfigurations};
    pub use super::copy::{copy_targeting, Copied};
    pub use super::edit::{refresh, remove_item, reword};
    pub use super::kill::{
        acknowledge_kill, kill, kills, open_kills_of_flag, switch_off_at_once, KillView,
    };
    pub use super::propose::{propose, Applied, Change, Outcome};
    pub use super::protection::{set_protection, ProtectionOutcome};
    pub use super::queries::{
        closed_authors, get, list, may_review, pending_by_flag, view, ApprovalView,
        ChangeRequestSummary, ChangeRequestView, CommentView, ItemView, ListQuery, Pending,
    };
    pub use super::workflow::{approve, cancel, comment, parse_time, reject, schedule, submit};
}

pub use change_request::State;

use crate::catalog::ArchiveNote;
use crate::evaluation::{StrategyDraft, VariantDraft};
use crate::targeting::service::{DependencyDraft, SegmentDraft};
use serde::{Deserialize, Serialize};

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
