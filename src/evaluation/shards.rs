//! The engine, split into shards so that a change recompiles only the flags near it.
//!
//! Compiling strategies is most of what a rebuild costs (yggdrasil parses every rule), so an
//! environment's flags are spread over several engines by a hash of their name, and a rebuild
//! reuses every shard whose flags and segments serve the same JSON as before. A flag and the
//! parents it depends on always share a shard: the engine resolves dependencies within its own
//! state.
//!
//! An engine holds only the flags it evaluates: those on in the environment and the parents
//! they depend on. A flag that is off answers off without asking the engine, and yggdrasil keeps
//! a raw copy of everything it compiles, so loading the others would cost memory for nothing
//! (at 10,000 flags an environment where everything is off held ~15 MiB).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use unleash_types::client_features::{ClientFeature, ClientFeatures, FeatureDependency, Segment};
use unleash_yggdrasil::{EngineState, UpdateMessage};
use xxhash_rust::xxh3::Xxh3;

use super::body::Wire;

/// Flags per shard we aim for: a few milliseconds of compiling.
const FLAGS_PER_SHARD: usize = 256;
const MAX_SHARDS: usize = 64;

pub(super) struct Shard {
    pub engine: EngineState,
    /// Names the served JSON of the shard's flags and of all segments.
    fingerprint: u64,
    /// What the engine could not compile: (flag, message).
    pub warnings: Vec<(String, String)>,
}

/// How many shards `flags` flags get: a power of two, so small projects use one engine.
pub(super) fn shard_count(flags: usize) -> usize {
    (flags / FLAGS_PER_SHARD)
        .next_power_of_two()
        .clamp(1, MAX_SHARDS)
}

/// The shard of each flag: by the hash of the first name (in sort order) among the flags it is
/// connected to by dependencies, so parents and children land together.
pub(super) fn assign(state: &ClientFeatures, shards: usize) -> HashMap<String, usize> {
    let flags = state.features.iter().map(|feature| {
        let parents = feature.dependencies.iter().flatten();
        (feature.name.as_str(), parents.map(|d| d.feature.as_str()))
    });
    assign_flags(flags, shards)
}

/// [`assign`] from each flag's name and the names of its parents.
pub(super) fn assign_flags<'a, P: Iterator<Item = &'a str>>(
    flags: impl Iterator<Item = (&'a str, P)> + Clone,
    shards: usize,
) -> HashMap<String, usize> {
    let mut groups = Groups::default();
    for (name, parents) in flags.clone() {
        groups.add(name);
        for parent in parents {
            groups.union(name, parent);
        }
    }
    flags
        .map(|(name, _)| {
            let root = groups.root(name);
            let shard = (xxhash_rust::xxh3::xxh3_64(root.as_bytes()) % shards as u64) as usize;
            (name.to_owned(), shard)
        })
        .collect()
}

/// Fingerprints of the shards of the body `wire`.
fn fingerprints(wire: &Wire, shard_of: &HashMap<String, usize>, shards: usize) -> Vec<u64> {
    let mut hashers: Vec<Xxh3> = (0..shards).map(|_| Xxh3::new()).collect();
    for (name, json) in wire.features() {
        let hasher = &mut hashers[shard_of[name]];
        hasher.update(json.as_bytes());
        hasher.update(b"\n");
    }
    let mut segments = Xxh3::new();
    for (_, json) in wire.segments() {
        segments.update(json.as_bytes());
        segments.update(b"\n");
    }
    let segments = segments.digest();
    hashers
        .iter()
        .map(|hasher| hasher.digest() ^ segments.rotate_left(1))
        .collect()
}

/// The shard `i` of `previous` when its fingerprint still matches.
fn reusable(previous: Option<&[Arc<Shard>]>, i: usize, fingerprint: u64) -> Option<&Arc<Shard>> {
    previous
        .map(|p| &p[i])
        .filter(|shard| shard.fingerprint == fingerprint)
}

/// Which flags an engine loads: those on, and every flag some other flag depends on (the
/// engine reads a parent's state to resolve the dependency).
pub(super) struct Evaluated {
    parents: HashSet<String>,
}

impl Evaluated {
    pub fn of<'a>(dependencies: impl Iterator<Item = &'a FeatureDependency>) -> Self {
        let parents = dependencies.map(|d| d.feature.clone()).collect();
        Self { parents }
    }

    fn wants(&self, feature: &ClientFeature) -> bool {
        feature.enabled || self.parents.contains(&feature.name)
    }
}

/// Builds the shards of `state`, whose features `wire` serialised and `shard_of` assigned;
/// shards of `previous` with the same fingerprint are reused rather than compiled again.
pub(super) fn build(
    state: ClientFeatures,
    wire: &Wire,
    shard_of: &HashMap<String, usize>,
    shards: usize,
    previous: Option<&[Arc<Shard>]>,
) -> Vec<Arc<Shard>> {
    let fingerprints = fingerprints(wire, shard_of, shards);
    let previous = previous.filter(|p| p.len() == shards);
    let ClientFeatures {
        version,
        features,
        segments,
        ..
    } = state;
    let evaluated = Evaluated::of(
        features
            .iter()
            .flat_map(|f| f.dependencies.iter().flatten()),
    );
    let mut members = sized_members(features.iter().map(|f| shard_of[&f.name]), shards);
    for feature in features.into_iter().filter(|f| evaluated.wants(f)) {
        let shard = shard_of[&feature.name];
        members[shard].push(feature);
    }
    members
        .into_iter()
        .enumerate()
        .map(|(i, features)| {
            if let Some(same) = reusable(previous, i, fingerprints[i]) {
                return same.clone();
            }
            Arc::new(compile(version, features, &segments, fingerprints[i]))
        })
        .collect()
}

/// One list per shard, each with room for exactly the flags `shard_of_each` puts there: the
/// lists end up inside the engines for as long as the environment is served, so growing them by
/// doubling would keep up to half of each as slack.
fn sized_members(
    shard_of_each: impl Iterator<Item = usize>,
    shards: usize,
) -> Vec<Vec<ClientFeature>> {
    let mut counts = vec![0usize; shards];
    for shard in shard_of_each {
        counts[shard] += 1;
    }
    counts.into_iter().map(Vec::with_capacity).collect()
}

/// The shards after a change to a few flags: `fresh` holds the changed flags that still exist,
/// `previous_shard` says where every other flag was and `served` reads its configuration back
/// from the previous body. Only shards whose fingerprint moved are compiled, reading just the
/// flags they hold.
#[allow(clippy::too_many_arguments)]
pub(super) fn patched(
    previous: &[Arc<Shard>],
    (version, segments): (u32, &Option<Vec<Segment>>),
    evaluated: &Evaluated,
    served: impl Fn(&str) -> Option<ClientFeature>,
    fresh: Vec<ClientFeature>,
    wire: &Wire,
    shard_of: &HashMap<String, usize>,
    shards: usize,
) -> Vec<Arc<Shard>> {
    let fingerprints = fingerprints(wire, shard_of, shards);
    let same_count = (previous.len() == shards).then_some(previous);
    let mut fresh: HashMap<String, ClientFeature> =
        fresh.into_iter().map(|f| (f.name.clone(), f)).collect();
    let mut members: Vec<Vec<&str>> = (0..shards).map(|_| Vec::new()).collect();
    for (name, _) in wire.features() {
        members[shard_of[name]].push(name);
    }
    members
        .into_iter()
        .enumerate()
        .map(|(i, names)| {
            if let Some(same) = reusable(same_count, i, fingerprints[i]) {
                return same.clone();
            }
            let mut features: Vec<ClientFeature> = names
                .into_iter()
                .filter_map(|name| fresh.remove(name).or_else(|| read_back(&served, name)))
                .filter(|feature| evaluated.wants(feature))
                .collect();
            features.shrink_to_fit();
            Arc::new(compile(version, features, segments, fingerprints[i]))
        })
        .collect()
}

/// A flag the change did not touch, as the previous body served it, without the slack of
/// parsing.
fn read_back(served: impl Fn(&str) -> Option<ClientFeature>, name: &str) -> Option<ClientFeature> {
    let mut feature = served(name)?;
    super::normalize::shrink(&mut feature);
    Some(feature)
}

fn compile(
    version: u32,
    features: Vec<ClientFeature>,
    segments: &Option<Vec<Segment>>,
    fingerprint: u64,
) -> Shard {
    let state = ClientFeatures {
        version,
        features,
        segments: segments.clone(),
        query: None,
        meta: None,
    };
    let engine = EngineState::default();
    let warnings = engine
        .take_state(UpdateMessage::FullResponse(state))
        .into_iter()
        .flatten()
        .map(|w| (w.toggle_name, w.message))
        .collect();
    Shard {
        engine,
        fingerprint,
        warnings,
    }
}

/// Union-find over flag names; the smaller name is the root, so groups are named the same way
/// whatever order the flags come in.
#[derive(Default)]
struct Groups {
    parent: HashMap<String, String>,
}

impl Groups {
    fn add(&mut self, name: &str) {
        if !self.parent.contains_key(name) {
            self.parent.insert(name.to_owned(), name.to_owned());
        }
    }

    fn root(&mut self, name: &str) -> String {
        let mut current = name.to_owned();
        loop {
            let Some(parent) = self.parent.get(&current) else {
                return current;
            };
            if *parent == current {
                break;
            }
            current = parent.clone();
        }
        // Path compression: point everything on the way straight at the root.
        let mut node = name.to_owned();
        while node != current {
            let next = self
                .parent
                .insert(node, current.clone())
                .unwrap_or_default();
            node = next;
        }
        current
    }

    fn union(&mut self, a: &str, b: &str) {
        self.add(a);
        self.add(b);
        let (ra, rb) = (self.root(a), self.root(b));
        if ra != rb {
            let (small, large) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent.insert(large, small);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(value: serde_json::Value) -> ClientFeatures {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn parents_and_children_share_a_shard() {
        let features: Vec<_> = (0..2000)
            .map(|i| {
                json!({"name": format!("f{i}"), "enabled": true,
                "dependencies": if i % 3 == 0 { json!([{"feature": format!("f{}", i + 1)},
                                                      {"feature": format!("f{}", i + 2)}]) }
                                else { json!(null) }})
            })
            .collect();
        let state = state(json!({"version": 2, "features": features}));
        let shards = shard_count(state.features.len());
        assert_eq!(shards, 8);
        let shard_of = assign(&state, shards);
        for i in (0..2000).step_by(3).filter(|i| i + 2 < 2000) {
            let own = shard_of[&format!("f{i}")];
            assert_eq!(own, shard_of[&format!("f{}", i + 1)]);
            assert_eq!(own, shard_of[&format!("f{}", i + 2)]);
        }
        let used: std::collections::HashSet<_> = shard_of.values().collect();
        assert_eq!(used.len(), shards, "every shard gets flags");
    }

    #[test]
    fn small_states_use_one_engine_and_large_ones_at_most_the_maximum() {
        assert_eq!(shard_count(0), 1);
        assert_eq!(shard_count(255), 1);
        assert_eq!(shard_count(1000), 4);
        assert_eq!(shard_count(10_000), 64);
        assert_eq!(shard_count(1_000_000), MAX_SHARDS);
    }
}
