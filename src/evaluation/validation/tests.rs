//! Table tests: each row is a strategy list and the (field, code) pairs the
//! admin API would report for it.

use serde_json::{json, Value};

use super::*;

fn errors(strategies: Value, value_type: ValueType) -> Vec<(String, &'static str)> {
    let drafts: Vec<StrategyDraft> = serde_json::from_value(strategies).expect("drafts parse");
    let found = validate_strategies(&drafts, value_type);
    found
        .into_iter()
        .map(|error| (error.field, error.code))
        .collect()
}

fn constraint(operator: &str, value: Value) -> Value {
    let mut c = json!({"contextName": "x", "operator": operator});
    let key = if value.is_array() { "values" } else { "value" };
    c[key] = value;
    json!([{"name": "default", "constraints": [c]}])
}

fn expect(strategies: Value, value_type: ValueType, expected: &[(&str, &str)]) {
    let got = errors(strategies.clone(), value_type);
    let expected: Vec<(String, &str)> = expected.iter().map(|(f, c)| (f.to_string(), *c)).collect();
    assert_eq!(got, expected, "{strategies}");
}

/// Expected `(field, code)` pairs.
type Expected<'a> = &'a [(&'a str, &'a str)];

const VALUE: &str = "strategies[0].constraints[0].value";

#[test]
fn valid_targeting_passes() {
    let strategies = json!([
        {"name": "flexibleRollout", "parameters": {"rollout": "35", "stickiness": "default", "groupId": "g"},
         "constraints": [
            {"contextName": "country", "operator": "IN", "values": ["NO", "SE"]},
            {"contextName": "version", "operator": "SEMVER_GTE", "value": "1.2.3-rc.1"},
            {"contextName": "seats", "operator": "NUM_LT", "value": "12.5"},
            {"contextName": "currentTime", "operator": "DATE_AFTER", "value": "2024-01-31T10:00:00.000+02:00"},
            {"contextName": "email", "operator": "REGEX", "value": "@example\\.com$"},
            {"contextName": "remoteAddress", "operator": "IN_CIDR", "values": ["10.0.0.0/8", "::1"]}],
         "variants": [{"name": "a", "weightType": "variable"}, {"name": "b", "weight": 200, "weightType": "fix"}]},
        {"name": "userWithId", "parameters": {"userIds": "1, 2,3"}},
        {"name": "remoteAddress", "parameters": {"IPs": "10.0.0.1, 192.168.0.0/16"}},
        {"name": "default"}]);
    expect(strategies, ValueType::Boolean, &[]);
}

#[test]
fn rollouts_must_be_whole_percentages() {
    for (rollout, ok) in [
        ("0", true),
        ("100", true),
        ("101", false),
        ("-5", false),
        ("12.5", false),
        ("half", false),
    ] {
        let strategies = json!([{"name": "flexibleRollout", "parameters": {"rollout": rollout}}]);
        let expected: &[(&str, &str)] = if ok {
            &[]
        } else {
            &[("strategies[0].parameters.rollout", "bad-rollout")]
        };
        expect(strategies, ValueType::Boolean, expected);
    }
    let missing = json!([{"name": "gradualRolloutUserId", "parameters": {}}]);
    expect(
        missing,
        ValueType::Boolean,
        &[("strategies[0].parameters.percentage", "required")],
    );
}

#[test]
fn constraint_values_must_fit_their_operator() {
    let cases: &[(&str, Value, Expected)] = &[
        (
            "NOT_AN_OPERATOR",
            json!(["a"]),
            &[("strategies[0].constraints[0].operator", "unknown-operator")],
        ),
        ("SEMVER_EQ", json!("v1.2.3"), &[(VALUE, "bad-semver")]),
        ("SEMVER_LT", json!("1.2"), &[(VALUE, "bad-semver")]),
        (
            "SEMVER_GT",
            json!("01.2.3"),
            &[("strategies[0].constraints[0]", "engine-rejected")],
        ),
        ("NUM_GT", json!("1 or true"), &[(VALUE, "bad-number")]),
        ("NUM_EQ", json!("NaN"), &[(VALUE, "bad-number")]),
        ("NUM_LTE", json!("-3.5e2"), &[]),
        ("DATE_AFTER", json!("2024-01-01"), &[(VALUE, "bad-date")]),
        (
            "DATE_BEFORE",
            json!("2024-13-01T00:00:00Z"),
            &[("strategies[0].constraints[0]", "engine-rejected")],
        ),
        ("REGEX", json!("(unclosed"), &[(VALUE, "bad-regex")]),
        ("REGEX", json!("ends\\\\"), &[(VALUE, "trailing-backslash")]),
        (
            "IN",
            json!(["fine", "bad\\"]),
            &[(
                "strategies[0].constraints[0].values[1]",
                "trailing-backslash",
            )],
        ),
        (
            "IN_CIDR",
            json!(["10.0.0.0/40"]),
            &[("strategies[0].constraints[0].values[0]", "bad-ip")],
        ),
        ("NUM_EQ", json!(null), &[(VALUE, "required")]),
    ];
    for (operator, value, expected) in cases {
        expect(
            constraint(operator, value.clone()),
            ValueType::Boolean,
            expected,
        );
    }
}

#[test]
fn text_pasted_into_rules_cannot_break_out() {
    let strategies = json!([
        {"name": "flexibleRollout", "parameters": {"rollout": "10", "groupId": "g\" or true", "stickiness": "a\\"},
         "constraints": [{"contextName": "x\"]", "operator": "IN", "values": []}]},
        {"name": "remoteAddress", "parameters": {"IPs": "10.0.0.1\""}}]);
    expect(
        strategies,
        ValueType::Boolean,
        &[
            ("strategies[0].parameters.groupId", "unsafe-text"),
            ("strategies[0].parameters.stickiness", "unsafe-text"),
            ("strategies[0].constraints[0].contextName", "unsafe-text"),
            ("strategies[1].parameters.IPs", "bad-entry"),
        ],
    );
}

#[test]
fn unknown_strategies_are_refused() {
    expect(
        json!([{"name": "myCustom"}]),
        ValueType::Boolean,
        &[("strategies[0].name", "unknown-strategy")],
    );
}

#[test]
fn variant_weights_must_normalise_to_a_thousand() {
    let cases: &[(Value, Expected)] = &[
        (
            json!([{"name": "a", "weight": 600, "weightType": "fix"}, {"name": "b", "weight": 500, "weightType": "fix"},
                {"name": "c"}]),
            &[("strategies[0].variants", "bad-weights")],
        ),
        (
            json!([{"name": "a", "weight": 1000, "weightType": "fix"}]),
            &[("strategies[0].variants", "bad-weights")],
        ),
        (
            json!([{"name": "a"}, {"name": "a"}]),
            &[("strategies[0].variants[1].name", "duplicate-name")],
        ),
        (
            json!([{"name": "a", "weight": 900, "weightType": "fix"}, {"name": "b"}]),
            &[],
        ),
    ];
    for (variants, expected) in cases {
        expect(
            json!([{"name": "default", "variants": variants}]),
            ValueType::Boolean,
            expected,
        );
    }
}

#[test]
fn payloads_must_fit_the_flag_value_type() {
    let variant = |payload: Value| json!([{"name": "default", "variants": [{"name": "a", "payload": payload}]}]);
    let path = "strategies[0].variants[0].payload";
    let value_path = "strategies[0].variants[0].payload.value";
    let cases: &[(Value, ValueType, Expected)] = &[
        (
            json!({"type": "number", "value": "42"}),
            ValueType::Number,
            &[],
        ),
        (
            json!({"type": "number", "value": "forty"}),
            ValueType::Number,
            &[(value_path, "bad-number")],
        ),
        (
            json!({"type": "string", "value": "1.5"}),
            ValueType::Number,
            &[],
        ),
        (
            json!({"type": "json", "value": "{\"a\":1}"}),
            ValueType::Json,
            &[],
        ),
        (
            json!({"type": "json", "value": "{a:1}"}),
            ValueType::Json,
            &[(value_path, "bad-json")],
        ),
        (
            json!({"type": "json", "value": "{a:1}"}),
            ValueType::Boolean,
            &[(value_path, "bad-json")],
        ),
        (
            json!({"type": "string", "value": "free text"}),
            ValueType::String,
            &[],
        ),
        (
            json!({"type": "xml", "value": "<a/>"}),
            ValueType::String,
            &[(
                "strategies[0].variants[0].payload.type",
                "unknown-payload-type",
            )],
        ),
        (
            json!(null),
            ValueType::String,
            &[(path, "payload-required")],
        ),
        (json!(null), ValueType::Boolean, &[]),
    ];
    for (payload, value_type, expected) in cases {
        expect(variant(payload.clone()), *value_type, expected);
    }
}

#[test]
fn flag_level_variants_and_segments_have_their_own_entry_points() {
    let variants: Vec<VariantDraft> = serde_json::from_value(json!([
        {"name": "a", "overrides": [{"contextName": "", "values": ["x"]}]}]))
    .unwrap();
    let found = validate_variants(&variants, ValueType::Boolean, "variants");
    assert_eq!(found[0].field, "variants[0].overrides[0].contextName");
    let constraints: Vec<Constraint> = serde_json::from_value(json!([
        {"contextName": "v", "operator": "SEMVER_EQ", "value": "x"}]))
    .unwrap();
    let found = validate_constraints(&constraints, "segment.constraints");
    assert_eq!(found[0].field, "segment.constraints[0].value");
    assert_eq!(found[0].code, "bad-semver");
}
