//! The explainer against the engine: its answers are the feed's for every case of the Unleash
//! client specification, its rationale (each piece evaluated through the engine on its own)
//! agrees with the answer, and the buckets it shows are the ones the engine hashed.

use serde_json::{json, Value};

use super::conformance::{load, spec_dir, spec_files, SpecFile};
use super::support::{context, environment};
use crate::evaluation::{CompiledEnvironment, FlagExplanation};

fn explain_one(env: &CompiledEnvironment, ctx: &Value, flag: &str) -> FlagExplanation {
    explained(env, ctx, flag).unwrap_or_else(|| panic!("{flag} is explained"))
}

/// None for a flag the environment does not serve.
fn explained(env: &CompiledEnvironment, ctx: &Value, flag: &str) -> Option<FlagExplanation> {
    let ctx = context(json!({ "context": ctx }));
    env.explain(&ctx, Some(&[flag.to_string()])).pop()
}

/// The frontend API's answer for the same context: (enabled, variant name).
fn feed_answer(env: &CompiledEnvironment, ctx: &Value, flag: &str) -> (bool, String) {
    let ctx = context(json!({ "context": ctx }));
    let answer = env.frontend_toggles(&ctx);
    match answer.toggles.iter().find(|t| t.name == flag) {
        Some(t) => (true, t.variant.name.clone()),
        None => (false, "disabled".into()),
    }
}

/// What the rationale says must hold of the answer.
fn consistent(e: &FlagExplanation) -> Result<(), String> {
    match e.decided_by {
        "strategy" | "no-strategies" if !e.enabled => Err("says on, answer is off".into()),
        "disabled" | "broken" | "dependency" | "no-match" if e.enabled => {
            Err("says off, answer is on".into())
        }
        _ => Ok(()),
    }
}

#[test]
fn the_explainer_agrees_with_the_feed_on_the_client_specification() {
    let dir = spec_dir();
    let mut cases = 0;
    let mut unexplained = 0;
    let mut buckets_checked = 0;
    let mut failures = Vec::new();
    for file in spec_files(&dir) {
        let text = std::fs::read_to_string(dir.join(&file)).unwrap();
        let spec: SpecFile = serde_json::from_str(&text).unwrap();
        let env = load(spec.state);
        let all = spec
            .tests
            .iter()
            .map(|c| {
                (
                    &c.description,
                    &c.context,
                    &c.toggle_name,
                    Some(c.expected_result),
                )
            })
            .chain(spec.variant_tests.iter().map(|c| {
                let on = c.expected_result["feature_enabled"].as_bool();
                (&c.description, &c.context, &c.toggle_name, on)
            }));
        for (description, ctx, flag, expected) in all {
            cases += 1;
            let (on, variant) = feed_answer(&env, ctx, flag);
            let Some(e) = explained(&env, ctx, flag) else {
                if on || expected == Some(true) {
                    failures.push(format!("{file}: {description}: {flag} not explained"));
                }
                continue;
            };
            // Without an id to hash, the engine picks a variant at random on each call.
            let drawn = e
                .variant_bucket
                .as_ref()
                .is_some_and(|v| v.identity.is_none());
            if e.enabled != on || (!drawn && e.variant.name != variant) {
                failures.push(format!(
                    "{file}: {description}: explained {} {}, the feed {on} {variant}",
                    e.enabled, e.variant.name
                ));
            }
            if expected.is_some_and(|x| x != e.enabled) {
                failures.push(format!("{file}: {description}: expected {expected:?}"));
            }
            if let Err(why) = consistent(&e) {
                failures.push(format!("{file}: {description}: {why}: {}", e.reason));
            }
            unexplained += usize::from(e.decided_by == "unexplained");
            // With an id to hash and no override, the bucket shown picks the engine's variant.
            if let Some(v) = e.variant_bucket.as_ref().filter(|v| v.bucket.is_some()) {
                if v.hashed_variant.as_deref() != Some(e.variant.name.as_str()) {
                    let overrides = text.contains("\"overrides\"");
                    if !overrides {
                        failures.push(format!(
                            "{file}: {description}: bucket {:?} picks {:?}, engine {}",
                            v.bucket, v.hashed_variant, e.variant.name
                        ));
                    }
                } else {
                    buckets_checked += 1;
                }
            }
        }
    }
    println!("{cases} cases, {unexplained} decided by a random draw, {buckets_checked} variant buckets checked");
    assert!(cases > 250, "only {cases} cases");
    assert!(
        buckets_checked > 20,
        "only {buckets_checked} variant buckets checked"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_rollout_shows_its_bucket_and_each_constraint_what_it_saw() {
    let env = environment(json!({"version": 2, "features": [{
        "name": "checkout", "enabled": true, "strategies": [
            {"name": "flexibleRollout", "parameters": {"rollout": "30", "stickiness": "default",
                "groupId": "checkout"},
             "constraints": [{"contextName": "country", "operator": "IN", "values": ["DE", "FR"]}]},
            {"name": "default", "segments": [1]}]}],
        "segments": [{"id": 1, "constraints": [
            {"contextName": "plan", "operator": "IN", "values": ["pro"]}]}]}));
    let mut seen_in = 0;
    let mut seen_out = 0;
    for user in 0..60 {
        let ctx = json!({"userId": user.to_string(), "properties": {"country": "DE"}});
        let e = explain_one(&env, &ctx, "checkout");
        let rollout = e.strategies[0].rollout.as_ref().unwrap();
        let bucket = rollout.bucket.unwrap();
        assert_eq!(rollout.percentage, Some(30));
        assert_eq!(rollout.identity.as_deref(), Some(user.to_string().as_str()));
        assert_eq!(e.strategies[0].constraints[0].seen.as_deref(), Some("DE"));
        assert!(e.strategies[0].constraints[0].matched);
        assert_eq!(bucket <= 30, e.enabled, "user {user}, bucket {bucket}");
        if e.enabled {
            seen_in += 1;
            assert_eq!(e.decided_by, "strategy");
            assert_eq!(e.strategy, Some(0));
        } else {
            seen_out += 1;
            assert_eq!(e.decided_by, "no-match");
            assert!(e.reason.contains("bucket"), "{}", e.reason);
        }
    }
    assert!(seen_in > 5 && seen_out > 5);
    // The segment decides for a pro user outside the country list.
    let e = explain_one(
        &env,
        &json!({"userId": "1", "properties": {"country": "US", "plan": "pro"}}),
        "checkout",
    );
    assert!(e.enabled);
    assert_eq!(e.strategy, Some(1));
    assert!(!e.strategies[0].constraints[0].matched);
    assert!(e.strategies[1].segments[0].matched);
    assert_eq!(
        e.strategies[1].segments[0].constraints[0].seen.as_deref(),
        Some("pro")
    );
}

#[test]
fn an_unmet_dependency_is_named() {
    let env = environment(json!({"version": 2, "features": [
        {"name": "parent", "enabled": false},
        {"name": "child", "enabled": true, "dependencies": [{"feature": "parent"}]}]}));
    let e = explain_one(&env, &json!({}), "child");
    assert!(!e.enabled);
    assert_eq!(e.decided_by, "dependency");
    assert_eq!(e.dependencies[0].parent_enabled, Some(false));
    assert!(
        e.reason
            .contains("depends on parent being on, which is off"),
        "{}",
        e.reason
    );
}
