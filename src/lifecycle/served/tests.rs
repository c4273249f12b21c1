use super::*;
use serde_json::json;

fn env<'a>(on: bool, strategies: &'a [Value], variants: &'a [Value]) -> EnvTargeting<'a> {
    EnvTargeting {
        environment: "production",
        protected: true,
        on,
        strategies,
        variants,
        parents: &[],
    }
}

fn gets(on: bool, strategies: Value, variants: Value) -> Gets {
    let s = strategies.as_array().unwrap().clone();
    let v = variants.as_array().unwrap().clone();
    environment(&env(on, &s, &v))
}

fn rollout(pct: u32) -> Value {
    json!({"name": "flexibleRollout", "parameters": {"rollout": pct.to_string(), "stickiness": "default", "groupId": "g"}})
}

fn variant(name: &str, weight: i64) -> Value {
    json!({"name": name, "weight": weight, "stickiness": "default", "payload": {"type": "string", "value": name.to_uppercase()}})
}

#[test]
fn an_off_flag_gives_everyone_the_off_path() {
    assert_eq!(gets(false, json!([rollout(100)]), json!([])), Gets::Off);
    assert_eq!(
        describe(&Gets::Off, ValueType::Boolean),
        "everyone gets `false` (the flag is off)"
    );
    assert_eq!(
        gets(true, json!([rollout(0)]), json!([])),
        Gets::Off,
        "0 % matches nobody"
    );
}

#[test]
fn on_for_everyone_without_constraints_or_variants_is_true_for_all() {
    assert_eq!(
        gets(true, json!([]), json!([])),
        Gets::On,
        "no strategies: on for all"
    );
    assert_eq!(
        gets(true, json!([{"name": "default"}]), json!([])),
        Gets::On
    );
    assert_eq!(gets(true, json!([rollout(100)]), json!([])), Gets::On);
    assert_eq!(
        describe(&Gets::On, ValueType::Boolean),
        "everyone gets `true`"
    );
}

#[test]
fn a_partial_rollout_constraints_or_segments_make_it_vary() {
    for s in [
        json!([rollout(50)]),
        json!([{"name": "default", "constraints": [{"contextName": "country", "operator": "IN", "values": ["DE"]}]}]),
        json!([{"name": "default", "segments": [3]}]),
        json!([{"name": "userWithId", "parameters": {"userIds": "a,b"}}]),
    ] {
        assert!(
            matches!(gets(true, s.clone(), json!([])), Gets::Varies { .. }),
            "{s}"
        );
    }
}

#[test]
fn a_restricted_strategy_before_everyone_still_gives_everyone_true() {
    let s = json!([{"name": "default", "constraints": [{"contextName": "x", "operator": "IN", "values": ["1"]}]}, rollout(100)]);
    assert_eq!(gets(true, s, json!([])), Gets::On);
}

#[test]
fn one_variant_is_kept_and_a_split_varies() {
    let one = gets(true, json!([rollout(100)]), json!([variant("blue", 1000)]));
    assert_eq!(
        one,
        Gets::Variant {
            name: "blue".into(),
            payload: Some("BLUE".into())
        }
    );
    assert_eq!(
        describe(&one, ValueType::String),
        "everyone gets variant `blue` (`BLUE`)"
    );
    let zero_weight = json!([variant("blue", 1000), variant("red", 0)]);
    assert!(matches!(
        gets(true, json!([rollout(100)]), zero_weight),
        Gets::Variant { .. }
    ));
    let split = gets(
        true,
        json!([rollout(100)]),
        json!([variant("blue", 500), variant("red", 500)]),
    );
    assert_eq!(
        split,
        Gets::Varies {
            why: "users are split between variant blue and variant red".into()
        }
    );
    let strategy_variants = json!([{"name": "default", "variants": [variant("green", 1000)]}]);
    assert_eq!(
        gets(true, strategy_variants, json!([variant("blue", 1000)])),
        Gets::Variant {
            name: "green".into(),
            payload: Some("GREEN".into())
        },
        "the matching strategy's variants win over the flag's"
    );
}

#[test]
fn a_dependency_makes_it_depend_on_the_parent() {
    let parents = vec!["checkout".to_string()];
    let e = EnvTargeting {
        parents: &parents,
        ..env(true, &[], &[])
    };
    assert_eq!(
        environment(&e),
        Gets::Varies {
            why: "it depends on the flag checkout".into()
        }
    );
}

fn at(environment: &str, protected: bool, gets: Gets) -> EnvGets {
    EnvGets {
        environment: environment.into(),
        protected,
        text: describe(&gets, ValueType::Boolean),
        gets,
    }
}

#[test]
fn the_suggestion_follows_production() {
    let on_in_prod = [
        at("development", false, Gets::Off),
        at("production", true, Gets::On),
    ];
    let s = suggest(&on_in_prod, None);
    assert_eq!(s.code, ActionCode::KeepOnPath);
    assert_eq!(
        s.text,
        "keep the on-path, delete the off-path: everyone gets it in production"
    );
    let off = [
        at("development", false, Gets::Off),
        at("production", true, Gets::Off),
    ];
    assert_eq!(suggest(&off, None).code, ActionCode::DeleteOnPath);
    let variant = [at(
        "production",
        true,
        Gets::Variant {
            name: "blue".into(),
            payload: None,
        },
    )];
    let s = suggest(&variant, None);
    assert_eq!(
        (s.code, s.variant.as_deref()),
        (ActionCode::KeepVariant, Some("blue"))
    );
    let varies = [at("production", true, Gets::Varies { why: "x".into() })];
    assert_eq!(
        suggest(&varies, None).text,
        "varies by user: decide what everyone should get before removing it"
    );
    let disagree = [at("eu", true, Gets::On), at("us", true, Gets::Off)];
    assert_eq!(suggest(&disagree, None).code, ActionCode::Decide);
}

#[test]
fn without_protected_environments_every_environment_counts() {
    let all_on = [at("dev", false, Gets::On), at("test", false, Gets::On)];
    assert_eq!(
        suggest(&all_on, None).text,
        "keep the on-path, delete the off-path: everyone gets it everywhere"
    );
    assert_eq!(suggest(&[], None).code, ActionCode::Decide);
}

#[test]
fn an_owners_completion_outranks_the_targeting() {
    let on = [at("production", true, Gets::On)];
    let discarded = Decided {
        outcome: "discarded",
        variant: None,
    };
    assert_eq!(suggest(&on, Some(discarded)).code, ActionCode::DeleteOnPath);
    let kept_variant = Decided {
        outcome: "kept",
        variant: Some("new"),
    };
    let s = suggest(&on, Some(kept_variant));
    assert_eq!(
        (s.code, s.variant.as_deref()),
        (ActionCode::KeepVariant, Some("new"))
    );
    let kept = Decided {
        outcome: "kept",
        variant: Some(" "),
    };
    assert_eq!(suggest(&on, Some(kept)).code, ActionCode::KeepOnPath);
}
