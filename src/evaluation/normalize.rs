//! Puts a client-features state into the one canonical form that is both
//! served and evaluated, so the body's bytes (and ETag) depend only on the
//! configuration, and SDKs evaluate exactly what our engine evaluates.

use unleash_types::client_features::{
    ClientFeature, ClientFeatures, Strategy, Variant, WeightType,
};

use super::weights::normalize_weights;

/// Something in the configuration that is served anyway but will not behave
/// as its author meant; worth a log line, not a failed rebuild.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildWarning {
    /// The flag concerned, if any.
    pub flag: Option<String>,
    pub message: String,
}

impl BuildWarning {
    pub(super) fn flag(name: &str, message: String) -> Self {
        let flag = Some(name.to_owned());
        Self { flag, message }
    }

    pub(super) fn global(message: String) -> Self {
        Self {
            flag: None,
            message,
        }
    }
}

/// Strategies whose hash needs a `groupId`. Node falls back to `""` and
/// yggdrasil to the flag name when it is missing, so we always send one
/// (spec 2.2).
const GROUPED_STRATEGIES: [&str; 3] = [
    "flexibleRollout",
    "gradualRolloutUserId",
    "gradualRolloutSessionId",
];

pub(super) fn normalize_state(
    mut state: ClientFeatures,
    warnings: &mut Vec<BuildWarning>,
) -> ClientFeatures {
    state.features.sort_by(|a, b| a.name.cmp(&b.name));
    drop_duplicate_names(&mut state.features, warnings);
    for feature in &mut state.features {
        fill_group_ids(feature);
        normalize_flag_variants(feature, warnings);
        shrink(feature);
    }
    if let Some(segments) = state.segments.as_mut() {
        segments.sort_by_key(|segment| segment.id);
        segments.dedup_by_key(|segment| segment.id);
    }
    // Request echo and cache metadata: meaningless in a body we generate.
    state.query = None;
    state.meta = None;
    state
}

/// Gives back the room lists were parsed into (a list read from JSON grows by doubling, from
/// four): what the engines keep of a state stays as long as it is served, and at 10,000 flags
/// that slack was several megabytes.
pub(super) fn shrink(feature: &mut ClientFeature) {
    for strategy in feature.strategies.iter_mut().flatten() {
        for constraint in strategy.constraints.iter_mut().flatten() {
            shrink_list(&mut constraint.values);
        }
        shrink_list(&mut strategy.constraints);
        shrink_list(&mut strategy.segments);
        shrink_list(&mut strategy.variants);
        if let Some(parameters) = strategy.parameters.as_mut() {
            parameters.shrink_to_fit();
        }
    }
    shrink_list(&mut feature.strategies);
    shrink_list(&mut feature.variants);
    shrink_list(&mut feature.dependencies);
}

fn shrink_list<T>(list: &mut Option<Vec<T>>) {
    if let Some(list) = list.as_mut() {
        list.shrink_to_fit();
    }
}

/// Two features with one name would be served twice while the engine keeps
/// only one of them; keep the first so both agree.
fn drop_duplicate_names(features: &mut Vec<ClientFeature>, warnings: &mut Vec<BuildWarning>) {
    let before = features.len();
    features.dedup_by(|later, earlier| later.name == earlier.name);
    if features.len() != before {
        warnings.push(BuildWarning::global(format!(
            "{} duplicate feature name(s) dropped",
            before - features.len()
        )));
    }
}

fn fill_group_ids(feature: &mut ClientFeature) {
    let name = feature.name.clone();
    for strategy in feature.strategies.iter_mut().flatten() {
        if GROUPED_STRATEGIES.contains(&strategy.name.as_str()) {
            fill_group_id(strategy, &name);
        }
    }
}

fn fill_group_id(strategy: &mut Strategy, flag_name: &str) {
    strategy
        .parameters
        .get_or_insert_with(Default::default)
        .entry("groupId".to_owned())
        .or_insert_with(|| flag_name.to_owned());
}

/// Only lists that carry `weightType` are normalised and sorted: a list
/// without it already has concrete weights in a meaningful order (it came
/// from an Unleash client API), and reordering it would move users between
/// variants.
fn normalize_flag_variants(feature: &mut ClientFeature, warnings: &mut Vec<BuildWarning>) {
    let Some(variants) = feature.variants.as_mut() else {
        return;
    };
    if variants.iter().all(|variant| variant.weight_type.is_none()) {
        return;
    }
    match normalize_weights(&weight_specs(variants)) {
        Ok(weights) => {
            for (variant, weight) in variants.iter_mut().zip(weights) {
                variant.weight = weight;
            }
            variants.sort_by(|a, b| a.name.cmp(&b.name));
        }
        Err(error) => warnings.push(BuildWarning::flag(
            &feature.name,
            format!("variant weights served as stored: {error}"),
        )),
    }
}

/// A missing `weightType` means `variable`, as in Unleash.
fn weight_specs(variants: &[Variant]) -> Vec<(WeightType, i32)> {
    variants
        .iter()
        .map(|variant| {
            let kind = variant.weight_type.clone().unwrap_or(WeightType::Variable);
            (kind, variant.weight)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn normalized(state: serde_json::Value) -> (ClientFeatures, Vec<BuildWarning>) {
        let mut warnings = Vec::new();
        let state = serde_json::from_value(state).expect("valid state");
        (normalize_state(state, &mut warnings), warnings)
    }

    #[test]
    fn features_and_segments_are_sorted() {
        let (state, _) = normalized(json!({"version": 2,
            "features": [{"name": "b", "enabled": true}, {"name": "a", "enabled": true}],
            "segments": [{"id": 2, "constraints": []}, {"id": 1, "constraints": []}]}));
        let names: Vec<_> = state.features.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        let ids: Vec<_> = state.segments.unwrap().iter().map(|s| s.id).collect();
        assert_eq!(ids, [1, 2]);
    }

    #[test]
    fn weighted_variants_get_concrete_weights_sorted_by_name() {
        let (state, warnings) = normalized(json!({"version": 2, "features": [{
            "name": "f", "enabled": true, "variants": [
                {"name": "red", "weight": 0, "weightType": "variable"},
                {"name": "blue", "weight": 0, "weightType": "variable"},
                {"name": "green", "weight": 100, "weightType": "fix"},
                {"name": "amber", "weight": 0, "weightType": "variable"}]}]}));
        assert!(warnings.is_empty());
        let variants = state.features[0].variants.clone().unwrap();
        let got: Vec<_> = variants
            .iter()
            .map(|v| (v.name.as_str(), v.weight))
            .collect();
        // 900 / 3 = 300 each, handed out in stored order before sorting.
        assert_eq!(
            got,
            [("amber", 300), ("blue", 300), ("green", 100), ("red", 300)]
        );
    }

    #[test]
    fn variants_without_weight_type_are_left_alone() {
        let (state, _) = normalized(json!({"version": 2, "features": [{
            "name": "f", "enabled": true, "variants": [
                {"name": "red", "weight": 1}, {"name": "blue", "weight": 1}]}]}));
        let variants = state.features[0].variants.clone().unwrap();
        let got: Vec<_> = variants
            .iter()
            .map(|v| (v.name.as_str(), v.weight))
            .collect();
        assert_eq!(got, [("red", 1), ("blue", 1)]);
    }

    #[test]
    fn broken_weights_are_kept_with_a_warning() {
        let (state, warnings) = normalized(json!({"version": 2, "features": [{
            "name": "f", "enabled": true, "variants": [
                {"name": "a", "weight": 1000, "weightType": "fix"}]}]}));
        assert_eq!(state.features[0].variants.as_ref().unwrap()[0].weight, 1000);
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn rollouts_always_carry_a_group_id() {
        let (state, _) = normalized(json!({"version": 2, "features": [{
            "name": "f", "enabled": true, "strategies": [
                {"name": "flexibleRollout", "parameters": {"rollout": "50"}},
                {"name": "gradualRolloutUserId"},
                {"name": "flexibleRollout", "parameters": {"rollout": "5", "groupId": "g"}},
                {"name": "default"}]}]}));
        let groups: Vec<_> = state.features[0]
            .strategies
            .iter()
            .flatten()
            .map(|s| {
                s.parameters
                    .as_ref()
                    .and_then(|p| p.get("groupId"))
                    .cloned()
            })
            .collect();
        let expected = [
            Some("f".to_owned()),
            Some("f".to_owned()),
            Some("g".to_owned()),
            None,
        ];
        assert_eq!(groups, expected);
    }

    #[test]
    fn duplicate_names_keep_the_first() {
        let (state, warnings) = normalized(json!({"version": 2, "features": [
            {"name": "a", "enabled": true}, {"name": "a", "enabled": false}]}));
        assert_eq!(state.features.len(), 1);
        assert!(state.features[0].enabled);
        assert_eq!(warnings.len(), 1);
    }
}
