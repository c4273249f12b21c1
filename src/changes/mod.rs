//! Change requests: four-eyes review of changes to protected environments.
//!
//! A write to a protected environment (on/off, strategies, variants, a segment used there), or a
//! flag-wide change that alters what one serves (archiving, dependencies), does not apply:
//! proposing it (`propose`) puts it into the author's draft for that environment,
//! remembering the version of what it changes. The draft is submitted, approved by other people
//! (`required_approvals` of the environment), then applied — at once or by the [`scheduler`] —
//! atomically and only if nothing it changes has moved since. Lowering an environment's
//! protection is itself such a change. The emergency kill switch ([`kill`](kill::kill)) is the
//! one way around review, and leaves a record to acknowledge.
//!
//! `change_request` is the pure state machine and `store` its SQL; `proposal` is one proposed
//! change (applying it, its live state, its before/after views); the operations live in one
//! module each (`propose`, `stage`, `copy`, `workflow`, `edit`, `apply`, `kill`, `protection`,
//! `queries`), every one in a transaction with its audit entries, and `service` names them for
//! the transports. Where the permission a command needs depends on what it loads (`propose`,
//! `copy`, `protection`, acknowledging a kill), the command comes in two steps: a plan that
//! says which `authz::Action` it asks, and carrying it out; the transport asks the policy in
//! between, so permissions are asked in one layer.

mod apply;
pub mod bulk;
mod bulk_report;
pub mod change_request;
mod configurations;
mod copy;
mod edit;
mod kill;
mod proposal;
mod propose;
mod protection;
mod queries;
pub mod scheduler;
mod stage;
pub mod store;
mod workflow;

/// Every operation on change requests, by the name the transports call it.
pub mod service {
    pub use super::apply::{apply, apply_scheduled};
    pub use super::configurations::{configurations, names, names_in, FlagConfigurations};
    pub use super::copy::{copy_targeting, plan_copy, Copied, CopyPlan};
    pub use super::edit::{refresh, remove_item, reword};
    pub use super::kill::{
        acknowledge_kill, kill, kill_of, kills, open_kills_of_flag, switch_off_at_once, KillView,
    };
    pub use super::proposal::{Applied, Change};
    pub use super::propose::{carry_out, plan, Outcome, Planned};
    pub use super::protection::{set_protection, ProtectionChange, ProtectionOutcome};
    pub use super::queries::{
        closed_authors, get, list, may_review, pending_by_flag, view, ApprovalView,
        ChangeRequestSummary, ChangeRequestView, CommentView, ItemView, ListQuery, Pending,
    };
    pub use super::workflow::{approve, cancel, comment, parse_time, reject, schedule, submit};
}

pub use change_request::State;
pub use proposal::Proposal;
