//! Building a [`CompiledEnvironment`]: whole from a configuration, patched for the flags a
//! change touched (reusing the rest), or with a delta's events applied.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use unleash_types::client_features::{ClientFeature, ClientFeatures, ClientFeaturesDelta, Segment};

use super::{BuildError, CompiledEnvironment, Parts};
use crate::evaluation::body::{ServedBody, Wire};
use crate::evaluation::etag;
use crate::evaluation::facts::FlagFacts;
use crate::evaluation::normalize::{normalize_state, BuildWarning};
use crate::evaluation::shards::{self, Shard};
use crate::evaluation::ValueType;

impl CompiledEnvironment {
    /// Normalises `features` (spec 2.2), serialises the body and loads the
    /// engine. `value_types` gives each flag's OFREP type; flags missing from
    /// it are booleans. `revision` is the configuration's version number,
    /// echoed in OFREP metadata and mixed into evaluation ETags.
    pub fn build(
        features: ClientFeatures,
        value_types: &HashMap<String, ValueType>,
        revision: u64,
    ) -> Result<Self, BuildError> {
        Self::compile(features, value_types, Some(revision), None)
    }

    /// [`Self::build`] with a revision derived from the served body, so it
    /// depends only on the configuration and survives restarts. `previous`,
    /// the environment this one replaces, lends the compiled rules of flags
    /// that did not change.
    pub fn build_versioned(
        features: ClientFeatures,
        value_types: &HashMap<String, ValueType>,
        previous: Option<&CompiledEnvironment>,
    ) -> Result<Self, BuildError> {
        Self::compile(features, value_types, None, previous)
    }

    fn compile(
        features: ClientFeatures,
        value_types: &HashMap<String, ValueType>,
        revision: Option<u64>,
        previous: Option<&CompiledEnvironment>,
    ) -> Result<Self, BuildError> {
        let mut warnings = Vec::new();
        let state = normalize_state(features, &mut warnings);
        let wire = Wire::of(&state)?;
        let current = ServedBody::new(wire.bytes().clone());
        // 52 bits: OFREP clients in JavaScript read it as a number.
        let revision = revision.unwrap_or_else(|| etag::number_of(&current.bytes) >> 12);
        let mut flags = flag_facts(&state, &wire, value_types, previous);
        let count = shards::shard_count(state.features.len());
        let shard_of = shards::assign(&state, count);
        for (name, facts) in flags.iter_mut() {
            facts.shard = shard_of[name];
        }
        let previous_shards = previous.map(|p| p.shards.as_slice());
        let segments = state.segments.clone();
        let shards = shards::build(state, &wire, &shard_of, count, previous_shards);
        let parts = Parts {
            wire,
            current,
            shards,
            segments,
        };
        Ok(Self::assemble(
            revision,
            value_types,
            flags,
            parts,
            warnings,
        ))
    }

    /// The environment from its parts, with the flags the engines could not compile noted.
    fn assemble(
        revision: u64,
        value_types: &HashMap<String, ValueType>,
        mut flags: BTreeMap<String, FlagFacts>,
        parts: Parts,
        mut warnings: Vec<BuildWarning>,
    ) -> Self {
        note_broken_flags(&parts.shards, &mut flags, &mut warnings);
        Self {
            revision,
            value_types: value_types.clone(),
            shards: parts.shards,
            flags,
            wire: parts.wire,
            current: parts.current,
            legacy: OnceLock::new(),
            segments: parts.segments,
            warnings,
        }
    }

    /// This environment with the flags named in `changed` read again: `fresh` holds those of
    /// them that still exist, as stored. The result is what [`Self::build_versioned`] gives for
    /// the whole new state, but unchanged flags keep their served JSON, facts and engine shard,
    /// and the state is never copied whole: a change to one flag costs memory and time for that
    /// flag and its shard.
    pub fn patched(
        &self,
        fresh: Vec<ClientFeature>,
        changed: &HashSet<&str>,
        value_types: &HashMap<String, ValueType>,
    ) -> Result<Self, BuildError> {
        let mut warnings = Vec::new();
        let fresh = ClientFeatures {
            version: self.wire.version(),
            features: fresh,
            segments: None,
            query: None,
            meta: None,
        };
        let fresh = normalize_state(fresh, &mut warnings).features;
        let wire = self.wire.patched(&fresh, changed)?;
        let current = ServedBody::new(wire.bytes().clone());
        let revision = etag::number_of(&current.bytes) >> 12;
        let segment_map: HashMap<i32, Segment> = (self.segments.iter().flatten())
            .map(|segment| (segment.id, segment.clone()))
            .collect();
        let fresh_by_name: HashMap<&str, &ClientFeature> =
            fresh.iter().map(|f| (f.name.as_str(), f)).collect();
        let mut flags = BTreeMap::new();
        for (name, _) in wire.features() {
            let value_type = value_types.get(name).copied().unwrap_or_default();
            let facts = match (fresh_by_name.get(name), self.flags.get(name)) {
                (Some(feature), _) => FlagFacts::build(feature, &segment_map, value_type, None),
                (None, Some(previous)) => {
                    let mut facts = previous.clone();
                    facts.value_type = value_type;
                    facts.broken = false;
                    facts
                }
                // Every piece of the patched body is fresh or was served before.
                (None, None) => continue,
            };
            flags.insert(name.to_owned(), facts);
        }
        let count = shards::shard_count(flags.len());
        let shard_of = shards::assign_flags(
            flags.iter().map(|(name, facts): (&String, &FlagFacts)| {
                let parents = facts.dependencies.iter();
                (name.as_str(), parents.map(|d| d.feature.as_str()))
            }),
            count,
        );
        for (name, facts) in flags.iter_mut() {
            facts.shard = shard_of[name];
        }
        let evaluated = shards::Evaluated::of(flags.values().flat_map(|f| &f.dependencies));
        let shards = shards::patched(
            &self.shards,
            (wire.version(), &self.segments),
            &evaluated,
            |name| self.wire.feature(name),
            fresh,
            &wire,
            &shard_of,
            count,
        );
        let parts = Parts {
            wire,
            current,
            shards,
            segments: self.segments.clone(),
        };
        Ok(Self::assemble(
            revision,
            value_types,
            flags,
            parts,
            warnings,
        ))
    }

    /// A new environment with `delta`'s events (hydration, feature and
    /// segment updates and removals) applied on top of this one's state.
    pub fn apply_delta(
        &self,
        delta: &ClientFeaturesDelta,
        revision: u64,
    ) -> Result<Self, BuildError> {
        let mut state = self.wire.state()?;
        state.apply_delta(delta);
        Self::build(state, &self.value_types, revision)
    }
}

/// The engines' warnings name flags they could not compile (unknown operator,
/// dangling segment, bad value), which they evaluate as off for everyone.
fn note_broken_flags(
    shards: &[Arc<Shard>],
    flags: &mut BTreeMap<String, FlagFacts>,
    warnings: &mut Vec<BuildWarning>,
) {
    for (flag, message) in shards.iter().flat_map(|shard| &shard.warnings) {
        // One warning per flag: the engine reports its on/off rule and its
        // variant rules separately, for the same cause.
        let Some(facts) = flags.get_mut(flag) else {
            continue;
        };
        if !std::mem::replace(&mut facts.broken, true) {
            warnings.push(BuildWarning::flag(flag, message.clone()));
        }
    }
}

/// Each flag's facts. With `previous` (the environment this build replaces), a flag whose
/// served JSON is unchanged, in a state whose segments are unchanged, keeps its compiled rules.
fn flag_facts(
    state: &ClientFeatures,
    wire: &Wire,
    value_types: &HashMap<String, ValueType>,
    previous: Option<&CompiledEnvironment>,
) -> BTreeMap<String, FlagFacts> {
    let segments: HashMap<i32, Segment> = state
        .segments
        .iter()
        .flatten()
        .map(|segment| (segment.id, segment.clone()))
        .collect();
    let previous = previous.filter(|p| p.wire.segments().eq(wire.segments()));
    let old_json: HashMap<&str, &str> = previous
        .map(|p| p.feature_json().collect())
        .unwrap_or_default();
    state
        .features
        .iter()
        .zip(wire.features())
        .map(|(feature, (_, json))| {
            let value_type = value_types.get(&feature.name).copied().unwrap_or_default();
            let unchanged = previous
                .filter(|_| old_json.get(feature.name.as_str()) == Some(&json))
                .and_then(|p| p.flags.get(&feature.name));
            let facts = FlagFacts::build(feature, &segments, value_type, unchanged);
            (feature.name.clone(), facts)
        })
        .collect()
}
