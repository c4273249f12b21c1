//! Table tests for the OFREP mapping (spec 1.2-1.5): each row is one flag,
//! one context and the exact JSON the single-flag endpoint would answer.

use serde_json::{json, Value};

use super::support::{context, typed_environment};
use crate::evaluation::{OfrepItem, ValueType};

pub(super) struct Case {
    pub(super) name: &'static str,
    pub(super) flag: Value,
    pub(super) value_type: ValueType,
    pub(super) context: Value,
    pub(super) expected: Value,
}

pub(super) fn flag(extra: Value) -> Value {
    let mut base = json!({"name": "f", "enabled": true});
    base.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    base
}

pub(super) fn rollout(percent: &str, stickiness: &str) -> Value {
    json!({"name": "flexibleRollout", "parameters": {"rollout": percent, "stickiness": stickiness, "groupId": "f"}})
}

pub(super) fn two_variants() -> Value {
    json!([{"name": "a", "weight": 500, "stickiness": "default", "payload": {"type": "string", "value": "A"}},
           {"name": "b", "weight": 500, "stickiness": "default", "payload": {"type": "string", "value": "B"}}])
}

fn payload_variant(kind: &str, value: &str) -> Value {
    json!([{"name": "v", "weight": 1000, "payload": {"type": kind, "value": value}}])
}

fn boolean_cases() -> Vec<Case> {
    use ValueType::Boolean;
    vec![
        Case {
            name: "no strategies is static",
            flag: flag(json!({})),
            value_type: Boolean,
            context: json!({}),
            expected: json!({"key": "f", "value": true, "reason": "STATIC", "variant": "on"}),
        },
        Case {
            name: "default strategy is static",
            flag: flag(json!({"strategies": [{"name": "default"}]})),
            value_type: Boolean,
            context: json!({}),
            expected: json!({"key": "f", "value": true, "reason": "STATIC", "variant": "on"}),
        },
        Case {
            name: "full rollout is static",
            flag: flag(json!({"strategies": [rollout("100", "default")]})),
            value_type: Boolean,
            context: json!({}),
            expected: json!({"key": "f", "value": true, "reason": "STATIC", "variant": "on"}),
        },
        Case {
            name: "off in the environment is disabled",
            flag: json!({"name": "f", "enabled": false}),
            value_type: Boolean,
            context: json!({"userId": "1"}),
            expected: json!({"key": "f", "value": false, "reason": "DISABLED", "variant": "off"}),
        },
        Case {
            name: "matching constraint is targeting",
            flag: flag(json!({"strategies": [{"name": "default", "constraints": [
                {"contextName": "appName", "operator": "IN", "values": ["web"]}]}]})),
            value_type: Boolean,
            context: json!({"appName": "web"}),
            expected: json!({"key": "f", "value": true, "reason": "TARGETING_MATCH", "variant": "on"}),
        },
        Case {
            name: "no matching strategy is default",
            flag: flag(json!({"strategies": [{"name": "default", "constraints": [
                {"contextName": "appName", "operator": "IN", "values": ["web"]}]}]})),
            value_type: Boolean,
            context: json!({"appName": "cli"}),
            expected: json!({"key": "f", "value": false, "reason": "DEFAULT", "variant": "off"}),
        },
        Case {
            name: "weighted split names the variant and carries its payload",
            flag: flag(json!({"variants": two_variants()})),
            value_type: Boolean,
            context: json!({"userId": "1"}),
            expected: json!({"key": "f", "value": true, "reason": "SPLIT", "variant": "b",
                "metadata": {"payload": "B", "payloadType": "string"}}),
        },
        Case {
            name: "single variant keeps the strategy reason",
            flag: flag(json!({"variants": [{"name": "only", "weight": 1000}]})),
            value_type: Boolean,
            context: json!({}),
            expected: json!({"key": "f", "value": true, "reason": "STATIC", "variant": "only"}),
        },
        Case {
            name: "override is targeting",
            flag: flag(json!({"variants": [
                {"name": "a", "weight": 500, "stickiness": "default", "overrides": [{"contextName": "plan", "values": ["pro"]}]},
                {"name": "b", "weight": 500, "stickiness": "default"}]})),
            value_type: Boolean,
            context: json!({"userId": "1", "properties": {"plan": "pro"}}),
            expected: json!({"key": "f", "value": true, "reason": "TARGETING_MATCH", "variant": "a"}),
        },
        Case {
            name: "dependency makes it targeting",
            flag: flag(json!({"dependencies": [{"feature": "parent"}]})),
            value_type: Boolean,
            context: json!({}),
            expected: json!({"key": "f", "value": true, "reason": "TARGETING_MATCH", "variant": "on"}),
        },
    ]
}

fn typed_cases() -> Vec<Case> {
    use ValueType::{Json, Number, String};
    vec![
        Case {
            name: "string payload",
            flag: flag(json!({"variants": payload_variant("string", "blue")})),
            value_type: String,
            context: json!({}),
            expected: json!({"key": "f", "value": "blue", "reason": "STATIC", "variant": "v"}),
        },
        Case {
            name: "integer stays integer",
            flag: flag(json!({"variants": payload_variant("number", "42")})),
            value_type: Number,
            context: json!({}),
            expected: json!({"key": "f", "value": 42, "reason": "STATIC", "variant": "v"}),
        },
        Case {
            name: "float stays float",
            flag: flag(json!({"variants": payload_variant("number", "1.0")})),
            value_type: Number,
            context: json!({}),
            expected: json!({"key": "f", "value": 1.0, "reason": "STATIC", "variant": "v"}),
        },
        Case {
            name: "json payload is parsed",
            flag: flag(json!({"variants": payload_variant("json", r#"{"a":[1]}"#)})),
            value_type: Json,
            context: json!({}),
            expected: json!({"key": "f", "value": {"a": [1]}, "reason": "STATIC", "variant": "v"}),
        },
        Case {
            name: "split typed flag",
            flag: flag(json!({"variants": two_variants()})),
            value_type: String,
            context: json!({"userId": "1"}),
            expected: json!({"key": "f", "value": "B", "reason": "SPLIT", "variant": "b"}),
        },
        Case {
            name: "unparsable number is a parse error",
            flag: flag(json!({"variants": payload_variant("number", "NaN")})),
            value_type: Number,
            context: json!({}),
            expected: json!({"key": "f", "errorCode": "PARSE_ERROR", "errorDetails": "payload 'NaN' is not a number"}),
        },
        Case {
            name: "on without variants leaves the default",
            flag: flag(json!({})),
            value_type: String,
            context: json!({}),
            expected: json!({"key": "f", "reason": "DEFAULT", "variant": "off"}),
        },
        Case {
            name: "variant without payload leaves the default",
            flag: flag(json!({"variants": [{"name": "bare", "weight": 1000}]})),
            value_type: Number,
            context: json!({}),
            expected: json!({"key": "f", "reason": "DEFAULT", "variant": "bare"}),
        },
        Case {
            name: "typed flag off in the environment",
            flag: json!({"name": "f", "enabled": false}),
            value_type: Json,
            context: json!({}),
            expected: json!({"key": "f", "reason": "DISABLED", "variant": "off"}),
        },
        Case {
            name: "typed flag off for the context",
            flag: flag(
                json!({"strategies": [rollout("0", "default")], "variants": payload_variant("string", "x")}),
            ),
            value_type: String,
            context: json!({"userId": "1"}),
            expected: json!({"key": "f", "reason": "DEFAULT", "variant": "off"}),
        },
    ]
}

pub(super) fn run(cases: Vec<Case>) {
    for case in cases {
        let state =
            json!({"version": 2, "features": [case.flag, {"name": "parent", "enabled": true}]});
        let env = typed_environment(state, &[("f", case.value_type)]);
        let got = match env.ofrep_single("f", &context(case.context)) {
            Ok(success) => serde_json::to_value(success).unwrap(),
            Err(error) => serde_json::to_value(error).unwrap(),
        };
        assert_eq!(got, case.expected, "{}", case.name);
    }
}

#[test]
fn boolean_flags_map_enabled_variant_and_reason() {
    run(boolean_cases());
}

#[test]
fn typed_flags_take_their_value_from_the_payload() {
    run(typed_cases());
}

#[test]
fn numbers_serialise_as_written() {
    let state = json!({"version": 2, "features": [
        flag(json!({"name": "int", "variants": payload_variant("number", "7")})),
        flag(json!({"name": "float", "variants": payload_variant("number", "7.0")}))]});
    let env = typed_environment(
        state,
        &[("int", ValueType::Number), ("float", ValueType::Number)],
    );
    let ctx = context(json!({}));
    let int = serde_json::to_string(&env.ofrep_single("int", &ctx).unwrap()).unwrap();
    let float = serde_json::to_string(&env.ofrep_single("float", &ctx).unwrap()).unwrap();
    assert!(int.contains(r#""value":7,"#), "{int}");
    assert!(float.contains(r#""value":7.0,"#), "{float}");
}

#[test]
fn unknown_flag_is_not_found() {
    let env = typed_environment(json!({"version": 2, "features": []}), &[]);
    let error = env.ofrep_single("nope", &context(json!({}))).unwrap_err();
    assert_eq!(
        serde_json::to_value(error).unwrap(),
        json!({"key": "nope", "errorCode": "FLAG_NOT_FOUND",
        "errorDetails": "flag 'nope' does not exist"})
    );
}

#[test]
fn bulk_lists_every_flag_with_errors_inline() {
    let state = json!({"version": 2, "features": [
        {"name": "b", "enabled": true, "strategies": [{"name": "userWithId", "parameters": {"userIds": "7"}}]},
        {"name": "a", "enabled": false}]});
    let env = typed_environment(state, &[]);
    let bulk = env.ofrep_bulk(&context(json!({})));
    assert_eq!(
        serde_json::to_value(&bulk).unwrap(),
        json!({
        "flags": [
            {"key": "a", "value": false, "reason": "DISABLED", "variant": "off"},
            {"key": "b", "errorCode": "TARGETING_KEY_MISSING",
             "errorDetails": "this flag targets by targetingKey and the context has none"}],
        "metadata": {"version": "v1"}})
    );
    assert!(matches!(bulk.flags[1], OfrepItem::Error(_)));
    let again = env.ofrep_bulk(&context(json!({})));
    assert_eq!(bulk.etag, again.etag);
    let keyed = env.ofrep_bulk(&context(json!({"userId": "7"})));
    assert_ne!(bulk.etag, keyed.etag);
}
