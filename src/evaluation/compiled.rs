//! [`CompiledEnvironment`]: everything the feed needs for one environment's
//! configuration, built once per change and shared read-only by requests.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use thiserror::Error;
use unleash_types::client_features::{ClientFeature, ClientFeatures, ClientFeaturesDelta, Segment};
use unleash_yggdrasil::state::EnrichedContext;
use unleash_yggdrasil::{Context, ExtendedVariantDef, VariantDef};

use super::body::{self, ServedBody, Wire};
use super::etag;
use super::facts::{Decider, FlagFacts};
use super::normalize::normalize_state;
use super::normalize::BuildWarning;
use super::shards::{self, Shard};
use super::ValueType;

/// The first Unleash-Client-Spec version that understands top-level
/// segments (spec 2.2).
const SEGMENTS_SPEC: (u64, u64, u64) = (4, 2, 0);

#[derive(Debug, Error)]
pub enum BuildError {
    #[error("could not serialise the client features body: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// What the engine answered for one flag and context.
pub(super) struct Verdict {
    pub enabled: bool,
    pub impression_data: bool,
    pub variant: ExtendedVariantDef,
}

/// What a build or a patch produced besides the flags' facts.
struct Parts {
    wire: Wire,
    current: ServedBody,
    shards: Vec<Arc<Shard>>,
    segments: Option<Vec<Segment>>,
}

/// One environment's flags, ready to serve: the normalised state's body in
/// pieces and whole, with its ETag, and loaded yggdrasil engines. Evaluation
/// takes `&self` and never mutates; share it behind an `Arc` and swap it on
/// change.
pub struct CompiledEnvironment {
    revision: u64,
    value_types: HashMap<String, ValueType>,
    /// The engines; together they also hold the normalised state, so we keep no second copy.
    shards: Vec<Arc<Shard>>,
    /// Sorted by name, so listings come out in a stable order.
    pub(super) flags: BTreeMap<String, FlagFacts>,
    wire: Wire,
    current: ServedBody,
    /// Built on first use: clients older than spec 4.2.0 are rare.
    legacy: OnceLock<(Wire, ServedBody)>,
    /// The normalised segments, for rebuilding a few flags.
    segments: Option<Vec<Segment>>,
    warnings: Vec<BuildWarning>,
}

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
        let shards = shards::patched(
            &self.shards,
            (wire.version(), &self.segments),
            |name| self.flags.get(name).map(|facts| facts.shard),
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
        let mut state = shards::state(&self.shards);
        state.apply_delta(delta);
        Self::build(state, &self.value_types, revision)
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// A copy of the normalised state.
    pub fn client_features(&self) -> ClientFeatures {
        shards::state(&self.shards)
    }

    /// Each feature's JSON as served to current clients, by name, sorted by name.
    pub fn feature_json(&self) -> impl Iterator<Item = (&str, &str)> {
        self.wire.features()
    }

    /// Each segment's JSON as served to current clients, by id, sorted by id.
    pub fn segment_json(&self) -> impl Iterator<Item = (&str, &str)> {
        self.wire.segments()
    }

    /// The `/api/client/features` body and its quoted ETag for a client that
    /// sent `client_spec` as `Unleash-Client-Spec`.
    pub fn client_features_body(&self, client_spec: Option<&str>) -> (&bytes::Bytes, &str) {
        let body = self.served(client_spec);
        (&body.bytes, &body.etag)
    }

    /// The same body, gzip-compressed (once per change, by the first request that asks).
    pub fn client_features_gzip(&self, client_spec: Option<&str>) -> &bytes::Bytes {
        self.served(client_spec).gzip()
    }

    /// Compresses the current body now, so that no request waits for it.
    pub fn warm(&self) {
        self.current.gzip();
    }

    /// A body with only the flags `keep` accepts, and its ETag; for filtered requests.
    pub fn client_features_narrowed(
        &self,
        client_spec: Option<&str>,
        keep: impl Fn(&str) -> bool,
    ) -> (Vec<u8>, String) {
        let wire = if understands_segments(client_spec) {
            &self.wire
        } else {
            &self.legacy().0
        };
        let bytes = wire.narrowed(keep);
        let etag = etag::of_bytes(&bytes);
        (bytes, etag)
    }

    fn served(&self, client_spec: Option<&str>) -> &ServedBody {
        if understands_segments(client_spec) {
            &self.current
        } else {
            &self.legacy().1
        }
    }

    fn legacy(&self) -> &(Wire, ServedBody) {
        self.legacy.get_or_init(|| {
            // Cannot fail where the current body did not: the same types, with
            // segment constraints copied into strategies.
            let wire = body::legacy_wire(&shards::state(&self.shards)).unwrap_or_default();
            let served = ServedBody::new(wire.bytes().clone());
            (wire, served)
        })
    }

    /// Each flag's OFREP value type, as given to the build.
    pub fn value_types(&self) -> &HashMap<String, ValueType> {
        &self.value_types
    }

    pub fn warnings(&self) -> &[BuildWarning] {
        &self.warnings
    }

    pub fn value_type(&self, flag: &str) -> Option<ValueType> {
        self.flags.get(flag).map(|facts| facts.value_type)
    }

    /// The engine's verdict for one flag. One pass of the engine: its variant
    /// answer carries whether the flag is on (`feature_enabled`), which
    /// `EngineState::resolve` would compute again by evaluating every
    /// strategy a second time.
    pub(super) fn verdict(&self, flag: &str, facts: &FlagFacts, ctx: &Context) -> Verdict {
        let variant = if facts.enabled_in_env {
            self.shards[facts.shard]
                .engine
                .get_variant(flag, ctx, &None)
        } else {
            VariantDef::default().to_enriched_response(false)
        };
        Verdict {
            enabled: variant.feature_enabled,
            impression_data: facts.impression_data,
            variant,
        }
    }

    /// Which strategy turned `flag` on for `ctx` (see [`FlagFacts::decider`]).
    pub(super) fn decider(
        &self,
        flag: &str,
        facts: &FlagFacts,
        ctx: &Context,
        enabled: bool,
    ) -> Decider {
        facts.decider(&EnrichedContext::from(ctx, flag, None), enabled)
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

/// Unleash treats a missing or unreadable header as an old client; so do we.
fn understands_segments(client_spec: Option<&str>) -> bool {
    client_spec
        .and_then(parse_version)
        .is_some_and(|version| version >= SEGMENTS_SPEC)
}

/// `major.minor.patch`, ignoring any pre-release or build suffix.
fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let core = text.trim().split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|part| part.parse::<u64>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluation::tests::support::environment;
    use serde_json::json;

    #[test]
    fn environments_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<CompiledEnvironment>();
    }

    #[test]
    fn old_clients_get_inlined_segments() {
        let cases = [
            (None, false),
            (Some("4.1.9"), false),
            (Some("4.2.0"), true),
            (Some("5.2.0"), true),
            (Some("6.1.0"), true),
            (Some("4.2"), false),
            (Some("junk"), false),
        ];
        for (header, modern) in cases {
            assert_eq!(understands_segments(header), modern, "{header:?}");
        }
    }

    #[test]
    fn body_choice_follows_the_client_spec_header() {
        let env = environment(json!({"version": 2,
            "features": [{"name": "f", "enabled": true, "strategies": [{"name": "default", "segments": [1]}]}],
            "segments": [{"id": 1, "constraints": []}]}));
        let (modern, modern_tag) = env.client_features_body(Some("5.2.0"));
        let (legacy, legacy_tag) = env.client_features_body(None);
        assert!(String::from_utf8_lossy(modern).contains("\"segments\""));
        assert!(!String::from_utf8_lossy(legacy).contains("\"segments\""));
        assert_ne!(modern_tag, legacy_tag);
    }

    #[test]
    fn uncompilable_flags_are_reported() {
        let env = environment(
            json!({"version": 2, "features": [{"name": "f", "enabled": true,
            "strategies": [{"name": "default", "constraints": [
                {"contextName": "a", "operator": "NOPE", "values": []}]}]}]}),
        );
        assert_eq!(env.warnings().len(), 1);
        assert_eq!(env.warnings()[0].flag.as_deref(), Some("f"));
    }

    #[test]
    fn a_rebuild_recompiles_only_the_shard_a_change_touched() {
        let features: Vec<_> = (0..1000)
            .map(|i| json!({"name": format!("f{i:04}"), "enabled": true}))
            .collect();
        let state: ClientFeatures =
            serde_json::from_value(json!({"version": 2, "features": features})).unwrap();
        let types = HashMap::new();
        let before = CompiledEnvironment::build_versioned(state.clone(), &types, None).unwrap();
        let mut changed = state;
        changed.features[7].enabled = false;
        let after = CompiledEnvironment::build_versioned(changed, &types, Some(&before)).unwrap();
        let reused = (before.shards.iter().zip(&after.shards))
            .filter(|(a, b)| Arc::ptr_eq(a, b))
            .count();
        assert_eq!(reused, before.shards.len() - 1);
        let on = |env: &CompiledEnvironment| {
            let ctx = crate::evaluation::tests::support::context(json!({}));
            env.frontend_toggles(&ctx).toggles.len()
        };
        assert_eq!((on(&before), on(&after)), (1000, 999));
        assert_eq!(after.client_features().features.len(), 1000);
        assert_ne!(before.revision(), after.revision());
    }

    #[test]
    fn a_patch_serves_and_evaluates_exactly_what_a_full_build_does() {
        let features: Vec<_> = (0..1000)
            .map(|i| {
                let mut f = json!({"name": format!("f{i:04}"), "enabled": i % 3 != 0});
                if i % 10 == 0 {
                    f["strategies"] = json!([{"name": "flexibleRollout", "segments": [1],
                        "parameters": {"rollout": "40", "stickiness": "default"}}]);
                }
                if i % 7 == 1 {
                    f["dependencies"] = json!([{"feature": format!("f{:04}", i - 1)}]);
                }
                if i % 11 == 0 {
                    f["variants"] =
                        json!([{"name": "a", "weight": 500}, {"name": "b", "weight": 500}]);
                }
                f
            })
            .collect();
        let segments = json!([{"id": 1, "constraints": [
            {"contextName": "plan", "operator": "IN", "values": ["pro"]}]}]);
        let state: ClientFeatures = serde_json::from_value(
            json!({"version": 2, "features": features, "segments": segments}),
        )
        .unwrap();
        let types = HashMap::new();
        let before = CompiledEnvironment::build_versioned(state.clone(), &types, None).unwrap();

        let mut next = state;
        next.features[7].enabled = !next.features[7].enabled;
        next.features.retain(|f| f.name != "f0010");
        let mut added: ClientFeature = serde_json::from_value(
            json!({"name": "f0500a", "enabled": true, "dependencies": [{"feature": "f0500"}]}),
        )
        .unwrap();
        added.project = Some("default".into());
        next.features.push(added);
        let changed: HashSet<&str> = ["f0007", "f0010", "f0500a"].into();
        let fresh: Vec<ClientFeature> = (next.features.iter())
            .filter(|f| changed.contains(f.name.as_str()))
            .cloned()
            .collect();
        let full = CompiledEnvironment::build_versioned(next, &types, None).unwrap();
        let patched = before.patched(fresh, &changed, &types).unwrap();

        assert_eq!(
            patched.client_features_body(Some("5.0.0")),
            full.client_features_body(Some("5.0.0"))
        );
        assert_eq!(patched.revision(), full.revision());
        for user in ["1", "2", "42", "alice"] {
            let ctx = crate::evaluation::tests::support::context(
                json!({"userId": user, "properties": {"plan": "pro"}}),
            );
            assert_eq!(
                patched.frontend_toggles(&ctx).body,
                full.frontend_toggles(&ctx).body
            );
            assert_eq!(patched.ofrep_bulk(&ctx).body, full.ofrep_bulk(&ctx).body);
        }
        let reused = (before.shards.iter().zip(&patched.shards))
            .filter(|(a, b)| Arc::ptr_eq(a, b))
            .count();
        assert!(reused >= before.shards.len() - 3, "{reused} shards reused");
    }

    #[test]
    fn deltas_rebuild_bodies_and_revision() {
        let env = environment(json!({"version": 2, "features": [{"name": "a", "enabled": true}]}));
        let delta = serde_json::from_value(json!({"events": [
            {"eventId": 2, "type": "feature-removed", "featureName": "a", "project": "default"}]}))
        .unwrap();
        let next = env.apply_delta(&delta, 8).unwrap();
        assert_eq!(next.revision(), 8);
        assert!(next.client_features().features.is_empty());
        assert_ne!(
            next.client_features_body(Some("5.2.0")).1,
            env.client_features_body(Some("5.2.0")).1
        );
    }
}
