//! Flag evaluation for the read-only feed, built on `unleash-yggdrasil`.
//!
//! This module owns:
//! * [`CompiledEnvironment`]: one environment's Unleash-shaped configuration,
//!   normalised once per change into the exact `/api/client/features` bodies we
//!   serve (plus their ETags) and into a loaded yggdrasil engine, so that what
//!   the feed evaluates is byte-for-byte what SDKs evaluate;
//! * the frontend API answer (`/api/frontend`) and the OFREP answers
//!   (`/ofrep/v1/evaluate/...`) computed from it, and the request-context
//!   parsing both need;
//! * the targeting validation the admin API runs before it stores strategies,
//!   so nothing is stored that the engine would misread.
//!
//! Everything here is pure: no I/O, no randomness (callers pass in the
//! fallback session id and the caller's IP). The one clock read is
//! yggdrasil's own: `DATE_*` constraints compare with "now" when the context
//! carries no `currentTime`.
//! Wire formats and semantics: `shared/spec/feed-protocols.md`.

mod body;
mod compiled;
mod context;
mod etag;
mod explain;
mod facts;
mod frontend;
mod normalize;
mod ofrep;
mod payload;
mod shards;
mod validation;
mod weights;

#[cfg(test)]
mod tests;

pub use compiled::{BuildError, CompiledEnvironment};
pub use context::{
    frontend_context_from_body, frontend_context_from_query, ofrep_context_from_body, ContextError,
    RequestDefaults,
};
pub use explain::{
    ConstraintCheck, DependencyCheck, FlagExplanation, RolloutCheck, SegmentCheck, StrategyCheck,
    VariantAnswer, VariantCheck,
};
pub use frontend::{FrontendResponse, FrontendToggle, FrontendVariant};
pub use normalize::BuildWarning;
pub use ofrep::{
    OfrepBulk, OfrepBulkMetadata, OfrepError, OfrepErrorCode, OfrepItem, OfrepReason, OfrepSuccess,
};
pub use validation::{
    validate_constraints, validate_strategies, validate_variants, FieldError, StrategyDraft,
    VariantDraft,
};
pub use weights::{normalize_weights, WeightError, TOTAL_WEIGHT};

use serde::{Deserialize, Serialize};

/// The type of value a flag hands out over OFREP. Unleash itself has no such
/// notion (every flag is a boolean with optional variants), so flags imported
/// from an Unleash state are `Boolean` unless told otherwise (spec 1.5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    #[default]
    Boolean,
    String,
    Number,
    Json,
}

impl ValueType {
    pub const ALL: [ValueType; 4] = [
        ValueType::Boolean,
        ValueType::String,
        ValueType::Number,
        ValueType::Json,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Boolean => "boolean",
            ValueType::String => "string",
            ValueType::Number => "number",
            ValueType::Json => "json",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The type a stored row names; rows were validated on the way in, and an unknown name
    /// reads as the default, boolean.
    pub fn of_stored(s: &str) -> Self {
        Self::parse(s).unwrap_or_default()
    }
}
