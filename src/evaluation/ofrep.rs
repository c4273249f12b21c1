//! OFREP answers (`/ofrep/v1/evaluate/flags[/{key}]`, spec 1.2-1.5): the
//! engine's verdict mapped onto the flag's value type, with a reason.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use thiserror::Error;
use unleash_types::client_features::FeatureDependency;
use unleash_yggdrasil::{Context, ExtendedVariantDef};

use super::compiled::CompiledEnvironment;
use super::context::ContextError;
use super::etag;
use super::facts::{Decider, FlagFacts};
use super::payload::payload_value;
use super::ValueType;

/// Only the reasons both the JS and Python providers accept (spec 1.2);
/// Python looks them up by name, so no custom ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OfrepReason {
    Static,
    TargetingMatch,
    Split,
    Disabled,
    Default,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OfrepErrorCode {
    FlagNotFound,
    ParseError,
    InvalidContext,
    TargetingKeyMissing,
    General,
}

/// One evaluated flag: the single-flag 200 body and a bulk item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfrepSuccess {
    pub key: String,
    /// Absent means "use the caller's code default".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    pub reason: OfrepReason,
    /// Always present: Python 0.3.0 reads it unconditionally.
    pub variant: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// A failed evaluation: a single-flag 4xx body, a per-flag bulk item, or
/// (without `key`) a whole-request bulk 400. Status codes are the feed's
/// business: FLAG_NOT_FOUND is 404, the rest 400 (spec 1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Error)]
#[serde(rename_all = "camelCase")]
#[error("{error_code:?}: {error_details}")]
pub struct OfrepError {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub error_code: OfrepErrorCode,
    /// Always present: Python reads it directly on a 400.
    pub error_details: String,
}

impl OfrepError {
    pub fn new(error_code: OfrepErrorCode, error_details: impl Into<String>) -> Self {
        let error_details = error_details.into();
        Self {
            key: None,
            error_code,
            error_details,
        }
    }

    pub fn with_key(mut self, key: &str) -> Self {
        self.key = Some(key.to_owned());
        self
    }

    fn not_found(key: &str) -> Self {
        Self::new(
            OfrepErrorCode::FlagNotFound,
            format!("flag '{key}' does not exist"),
        )
        .with_key(key)
    }
}

impl From<ContextError> for OfrepError {
    fn from(error: ContextError) -> Self {
        let code = match error {
            ContextError::NotJson(_) => OfrepErrorCode::ParseError,
            ContextError::NotAnObject => OfrepErrorCode::InvalidContext,
        };
        Self::new(code, error.to_string())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum OfrepItem {
    Success(OfrepSuccess),
    Error(OfrepError),
}

impl From<Result<OfrepSuccess, OfrepError>> for OfrepItem {
    fn from(result: Result<OfrepSuccess, OfrepError>) -> Self {
        result.map_or_else(Self::Error, Self::Success)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfrepBulk {
    pub flags: Vec<OfrepItem>,
    pub metadata: OfrepBulkMetadata,
    /// This answer as served, serialised once; not part of the JSON.
    #[serde(skip)]
    pub body: Vec<u8>,
    /// Quoted ETag of `body`; not part of the JSON.
    #[serde(skip)]
    pub etag: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OfrepBulkMetadata {
    pub version: String,
}

impl CompiledEnvironment {
    /// One flag for `ctx`; see [`Self::ofrep_bulk`] for the mapping.
    pub fn ofrep_single(&self, key: &str, ctx: &Context) -> Result<OfrepSuccess, OfrepError> {
        let facts = self
            .flags
            .get(key)
            .ok_or_else(|| OfrepError::not_found(key))?;
        self.ofrep_evaluate(key, facts, ctx)
    }

    /// Every flag for `ctx`, sorted by key, per-flag failures inline.
    ///
    /// Mapping (spec 1.5): a flag off in the environment is DISABLED; on but
    /// off for the context is DEFAULT; otherwise SPLIT when a weighted split
    /// picked the variant, TARGETING_MATCH for an override or a strategy with
    /// constraints, segments, ids, a partial rollout or dependencies, and
    /// STATIC when nothing targeted. Without a targeting key, a flag whose
    /// answer was decided by that absence is TARGETING_KEY_MISSING.
    pub fn ofrep_bulk(&self, ctx: &Context) -> OfrepBulk {
        let flags: Vec<OfrepItem> = self
            .flags
            .iter()
            .map(|(key, facts)| self.ofrep_evaluate(key, facts, ctx).into())
            .collect();
        let version = format!("v{}", self.revision());
        let mut bulk = OfrepBulk {
            flags,
            metadata: OfrepBulkMetadata { version },
            body: Vec::new(),
            etag: String::new(),
        };
        // Cannot fail: plain structs of strings, enums and JSON values.
        bulk.body = serde_json::to_vec(&bulk).unwrap_or_default();
        bulk.etag = etag::of_answer(b"ofrep", self.revision(), &bulk.body);
        bulk
    }

    fn ofrep_evaluate(
        &self,
        key: &str,
        facts: &FlagFacts,
        ctx: &Context,
    ) -> Result<OfrepSuccess, OfrepError> {
        if !facts.enabled_in_env {
            return Ok(off(key, facts.value_type, OfrepReason::Disabled));
        }
        let resolved = self.verdict(key, facts, ctx);
        let decider = self.decider(key, facts, ctx, resolved.enabled);
        if ctx.user_id.is_none() && self.missing_key_decides(facts, ctx, decider) {
            return Err(key_missing(key));
        }
        if !resolved.enabled {
            return Ok(off(key, facts.value_type, OfrepReason::Default));
        }
        let reason = reason(facts, decider, &resolved.variant, ctx);
        match facts.value_type {
            ValueType::Boolean => Ok(boolean_on(key, resolved.variant, reason)),
            value_type => typed_on(key, value_type, resolved.variant, reason),
        }
    }

    /// The flag's own answer, or a parent's it depends on, hinged on the
    /// missing key. A flag the engine cannot compile is off whatever the key.
    fn missing_key_decides(&self, facts: &FlagFacts, ctx: &Context, decider: Decider) -> bool {
        if facts.broken {
            return false;
        }
        let parents = facts
            .dependencies
            .iter()
            .any(|dependency| self.parent_lacks_key(dependency, ctx));
        parents || facts.missing_key_decides(ctx, decider, true)
    }

    fn parent_lacks_key(&self, dependency: &FeatureDependency, ctx: &Context) -> bool {
        let name = dependency.feature.as_str();
        let Some(parent) = self.flags.get(name) else {
            return false;
        };
        if !parent.enabled_in_env || parent.broken {
            return false;
        }
        let enabled = self.verdict(name, parent, ctx).enabled;
        let decider = self.decider(name, parent, ctx, enabled);
        let reads_variant = dependency.variants.as_ref().is_some_and(|v| !v.is_empty());
        parent.missing_key_decides(ctx, decider, reads_variant)
    }
}

fn key_missing(key: &str) -> OfrepError {
    let details = "this flag targets by targetingKey and the context has none";
    OfrepError::new(OfrepErrorCode::TargetingKeyMissing, details).with_key(key)
}

fn reason(
    facts: &FlagFacts,
    decider: Decider,
    variant: &ExtendedVariantDef,
    ctx: &Context,
) -> OfrepReason {
    if variant.enabled {
        if facts.is_override(decider, &variant.name, ctx) {
            return OfrepReason::TargetingMatch;
        }
        if facts.is_split(decider) {
            return OfrepReason::Split;
        }
    }
    if facts.is_static(decider) {
        OfrepReason::Static
    } else {
        OfrepReason::TargetingMatch
    }
}

/// Off: `false` for a boolean, otherwise no value so the caller's default
/// applies.
fn off(key: &str, value_type: ValueType, reason: OfrepReason) -> OfrepSuccess {
    let value = (value_type == ValueType::Boolean).then_some(Value::Bool(false));
    answer(key, value, reason, "off".to_owned())
}

fn answer(key: &str, value: Option<Value>, reason: OfrepReason, variant: String) -> OfrepSuccess {
    let metadata = BTreeMap::new();
    OfrepSuccess {
        key: key.to_owned(),
        value,
        reason,
        variant,
        metadata,
    }
}

/// On: `true`, named after the chosen variant (or "on"), its payload as
/// metadata for callers that want it.
fn boolean_on(key: &str, variant: ExtendedVariantDef, reason: OfrepReason) -> OfrepSuccess {
    let name = if variant.enabled {
        variant.name
    } else {
        "on".to_owned()
    };
    let mut success = answer(key, Some(Value::Bool(true)), reason, name);
    if let Some(payload) = variant.payload {
        success
            .metadata
            .insert("payloadType".to_owned(), payload.payload_type);
        success.metadata.insert("payload".to_owned(), payload.value);
    }
    success
}

/// On for a string, number or JSON flag: the value is the variant's payload.
/// No variant or no payload means no value, and the caller's default.
fn typed_on(
    key: &str,
    value_type: ValueType,
    variant: ExtendedVariantDef,
    reason: OfrepReason,
) -> Result<OfrepSuccess, OfrepError> {
    if !variant.enabled {
        return Ok(answer(key, None, OfrepReason::Default, "off".to_owned()));
    }
    let Some(payload) = variant.payload.as_ref() else {
        return Ok(answer(key, None, OfrepReason::Default, variant.name));
    };
    let value = payload_value(value_type, payload)
        .map_err(|details| OfrepError::new(OfrepErrorCode::ParseError, details).with_key(key))?;
    Ok(answer(key, Some(value), reason, variant.name))
}
