//! What an environment serves, flag by flag, as values that are equal exactly when SDKs get the
//! same answers: the basis of "does this change need review". A flag that is off, archived or
//! unknown serves nothing (every SDK answers it as disabled); a flag that is on serves its
//! strategies (with the constraints of the segments they use), its variants, and its
//! dependencies together with each parent's state (missing, off, or what it serves), since the
//! parent decides the child.

use super::store;
use crate::db::Conn;
use crate::projects::{Environment, Project};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use unleash_types::client_features::ClientFeature;

/// What each named flag serves in one environment.
pub type Served = BTreeMap<String, Value>;

/// What `keys` serve in each of `envs`, by environment key.
pub async fn read(
    conn: &mut Conn,
    project: &Project,
    envs: &[Environment],
    keys: &[String],
) -> sqlx::Result<BTreeMap<String, Served>> {
    let segments = store::segment_constraints(&mut *conn, project.id).await?;
    let mut out = BTreeMap::new();
    for env in envs {
        out.insert(
            env.key.clone(),
            read_one(&mut *conn, project, env, keys, &segments).await?,
        );
    }
    Ok(out)
}

async fn read_one(
    conn: &mut Conn,
    project: &Project,
    env: &Environment,
    keys: &[String],
    segments: &HashMap<i64, Value>,
) -> sqlx::Result<Served> {
    let (flags, _) =
        store::environment_flags(&mut *conn, project.id, &project.key, env.id, Some(keys)).await?;
    let mut by_key: HashMap<String, ClientFeature> =
        flags.into_iter().map(|f| (f.name.clone(), f)).collect();
    // Parents are read too: what they serve is part of what their children serve.
    let parents: Vec<String> = by_key
        .values()
        .flat_map(|f| f.dependencies.iter().flatten().map(|d| d.feature.clone()))
        .filter(|p| !by_key.contains_key(p))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !parents.is_empty() {
        let (more, _) =
            store::environment_flags(&mut *conn, project.id, &project.key, env.id, Some(&parents))
                .await?;
        by_key.extend(more.into_iter().map(|f| (f.name.clone(), f)));
    }
    Ok(keys
        .iter()
        .map(|k| (k.clone(), serving(by_key.get(k), &by_key, segments)))
        .collect())
}

/// One flag's answer-deciding state; `Value::Null` when it serves nothing.
fn serving(
    flag: Option<&ClientFeature>,
    all: &HashMap<String, ClientFeature>,
    segments: &HashMap<i64, Value>,
) -> Value {
    let Some(f) = flag.filter(|f| f.enabled) else {
        return Value::Null;
    };
    let strategies: Vec<Value> = f
        .strategies
        .iter()
        .flatten()
        .map(|s| {
            let used: Vec<Value> = s
                .segments
                .iter()
                .flatten()
                .map(|id| {
                    segments
                        .get(&i64::from(*id))
                        .cloned()
                        .unwrap_or(Value::Null)
                })
                .collect();
            let mut s = s.clone();
            s.segments = None;
            json!({ "strategy": s, "segments": used })
        })
        .collect();
    let dependencies: Vec<Value> = f
        .dependencies
        .iter()
        .flatten()
        .map(|d| {
            // One level only: a parent has no dependencies of its own to follow. A missing
            // (archived) parent fails every dependency, an off one satisfies `enabled: false`.
            let parent = match all.get(&d.feature) {
                None => json!("missing"),
                Some(p) if !p.enabled => json!("off"),
                Some(p) => json!({ "strategies": p.strategies, "variants": p.variants }),
            };
            json!({ "dependency": d, "parent": parent })
        })
        .collect();
    json!({ "strategies": strategies, "variants": f.variants, "dependencies": dependencies })
}

/// The environments (keys, in the order of `before`) where what is served differs.
pub fn changed(before: &BTreeMap<String, Served>, after: &BTreeMap<String, Served>) -> Vec<String> {
    before
        .iter()
        .filter(|(env, was)| after.get(*env) != Some(*was))
        .map(|(env, _)| env.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use unleash_types::client_features::{FeatureDependency, Strategy};

    fn flag(name: &str, enabled: bool, parents: &[(&str, bool)]) -> ClientFeature {
        ClientFeature {
            name: name.into(),
            enabled,
            strategies: Some(vec![Strategy {
                name: "default".into(),
                sort_order: None,
                segments: None,
                constraints: None,
                parameters: None,
                variants: None,
            }]),
            dependencies: (!parents.is_empty()).then(|| {
                parents
                    .iter()
                    .map(|(p, on)| FeatureDependency {
                        feature: p.to_string(),
                        enabled: Some(*on),
                        variants: None,
                    })
                    .collect()
            }),
            ..ClientFeature::default()
        }
    }

    fn served(flags: &[ClientFeature], key: &str) -> Value {
        let all: HashMap<String, ClientFeature> =
            flags.iter().map(|f| (f.name.clone(), f.clone())).collect();
        serving(all.get(key), &all, &HashMap::new())
    }

    #[test]
    fn an_off_flag_serves_nothing_whatever_its_rules() {
        let off = flag("a", false, &[("p", true)]);
        let off_plain = flag("a", false, &[]);
        assert_eq!(served(&[off], "a"), Value::Null);
        assert_eq!(served(&[off_plain], "a"), Value::Null);
        assert_eq!(served(&[], "a"), Value::Null, "archived or unknown");
    }

    #[test]
    fn a_live_flag_serves_its_dependencies_and_its_parents_state() {
        let parent_on = flag("p", true, &[]);
        let parent_off = flag("p", false, &[]);
        let child = flag("c", true, &[("p", true)]);
        let free = flag("c", true, &[]);
        let with_on = served(&[child.clone(), parent_on.clone()], "c");
        let with_off = served(&[child.clone(), parent_off], "c");
        let without = served(&[free, parent_on], "c");
        assert_ne!(with_on, with_off, "the parent's switch decides the child");
        assert_ne!(
            with_on, without,
            "removing the dependency changes the child"
        );
        assert_ne!(
            served(std::slice::from_ref(&child), "c"),
            with_on,
            "an archived parent too"
        );
        let needs_off = flag("c", true, &[("p", false)]);
        let off = flag("p", false, &[]);
        assert_ne!(
            served(&[needs_off.clone(), off], "c"),
            served(&[needs_off], "c"),
            "an off parent satisfies `enabled: false`, a missing one does not"
        );
    }
}
