//! Targeting per flag and environment in Unleash's shape — strategies with constraints, segments
//! and variants, flag-level variants, dependencies — and the feed state built from it.
//!
//! `strategies`, `dependencies` and `segments` edit (validate, change, audit, inside the caller's
//! transaction); `served` says what an environment serves, for review decisions; `store` holds
//! the SQL; `import` loads Unleash states. `service` names the operations for other modules.

mod dependencies;
pub mod exposure;
pub mod import;
mod segments;
pub mod served;
pub mod store;
mod strategies;

/// Every targeting operation, by the name other modules call it.
pub mod service {
    pub use super::dependencies::{
        dependencies, set_dependencies, DependenciesSet, DependencyDraft,
    };
    pub use super::segments::{
        create_segment, delete_segment, segment, segment_names, segment_usage, segments,
        update_segment, SegmentDraft, SegmentUse, SegmentView,
    };
    pub use super::strategies::{replace_strategies, replace_variants, targeting, Targeting};
}
