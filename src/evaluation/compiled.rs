//! [`CompiledEnvironment`]: everything the feed needs for one environment's
//! configuration, built once per change (`build`) and shared read-only by requests.

mod build;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use thiserror::Error;
use unleash_types::client_features::{ClientFeatures, Segment};
use unleash_yggdrasil::state::EnrichedContext;
use unleash_yggdrasil::{Context, ExtendedVariantDef, VariantDef};

use super::body::{self, ServedBody, Wire};
use super::etag;
use super::facts::{Decider, FlagFacts};
use super::normalize::BuildWarning;
use super::shards::Shard;
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
    /// The engines, holding the flags that are on and their parents.
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
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// A copy of the normalised state, read back from the served body.
    pub fn client_features(&self) -> ClientFeatures {
        // Cannot fail: the body was serialised from this very type.
        self.wire.state().unwrap_or_default()
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
            let wire = body::legacy_wire(&self.client_features()).unwrap_or_default();
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
    use std::collections::HashSet;
    use unleash_types::client_features::ClientFeature;

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
    fn off_flags_are_served_and_read_back_but_only_on_flags_and_parents_are_loaded() {
        let rollout = json!([{"name": "flexibleRollout",
            "parameters": {"rollout": "100", "stickiness": "default", "groupId": "g"},
            "constraints": [{"contextName": "plan", "operator": "IN", "values": ["pro", "team"]}]}]);
        let env = environment(json!({"version": 2, "features": [
            {"name": "on", "enabled": true, "strategies": rollout},
            {"name": "off", "enabled": false, "strategies": rollout},
            {"name": "off-parent", "enabled": false, "strategies": rollout},
            {"name": "child", "enabled": true, "dependencies": [{"feature": "off-parent"}]}]}));
        let mut loaded: Vec<String> = (env.shards.iter())
            .flat_map(|shard| shard.engine.get_state().features)
            .map(|f| f.name)
            .collect();
        loaded.sort();
        assert_eq!(loaded, ["child", "off-parent", "on"]);

        let state = env.client_features();
        let names: Vec<&str> = state.features.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["child", "off", "off-parent", "on"]);
        let off = &state.features[1];
        let constraint = &off.strategies.as_ref().unwrap()[0]
            .constraints
            .as_ref()
            .unwrap()[0];
        assert_eq!(
            constraint.values.as_deref(),
            Some(&["pro".to_string(), "team".to_string()][..])
        );

        let ctx = crate::evaluation::tests::support::context(
            json!({"userId": "1", "properties": {"plan": "pro"}}),
        );
        let answer = env.frontend_toggles(&ctx);
        let on: Vec<&str> = answer.toggles.iter().map(|t| t.name).collect();
        assert_eq!(on, ["on"], "the child of an off parent is off");
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
