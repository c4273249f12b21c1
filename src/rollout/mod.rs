//! Rollout safety: release templates (presets of milestones), release plans that walk a flag
//! through them in one environment, guards that read health signals, and the automatic
//! rollback when a guard is breached (issue 13, contract "Rollout safety").
//!
//! Pure: `template` (a template's shape, validation, what a milestone exposes), `plan` (the
//! approved plan and its state machine), `guard` (a guard's value through
//! `signals::aggregate`, its limit, the sustain rule, exposed-against-unexposed intervals).
//! With I/O: `templates` (the presets catalog), `plans` (creating one through
//! `changes::propose`, starting it), `steps` (advance, pause, resume, stop), `check` (reading
//! guards from the stored signals), `rollback`, `watch` (the background job), `view` (what the
//! API and the page show). `store` holds the SQL.

pub mod check;
pub mod guard;
pub mod plan;
pub mod plans;
pub mod rollback;
pub mod steps;
pub mod store;
pub mod template;
pub mod templates;
pub mod view;
pub mod watch;

pub use plan::{Move, OnBreach, PlanDraft, State};
pub use plans::{Plan, PlanRequest};
pub use template::{Milestone, MilestoneStrategy, TemplateDraft};
pub use templates::{Owner, TemplateView};
pub use view::PlanView;
