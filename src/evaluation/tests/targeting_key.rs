//! TARGETING_KEY_MISSING (spec 1.1): reported when the missing targeting key
//! decided a flag's answer, and only then.

use serde_json::{json, Value};

use super::ofrep::{flag, rollout, run, two_variants, Case};
use super::support::{context, typed_environment};
use crate::evaluation::{OfrepErrorCode, ValueType};

fn key_missing() -> Value {
    json!({"key": "f", "errorCode": "TARGETING_KEY_MISSING",
           "errorDetails": "this flag targets by targetingKey and the context has none"})
}

fn missing_key_cases() -> Vec<Case> {
    use ValueType::Boolean;
    let users = json!({"name": "userWithId", "parameters": {"userIds": "7"}});
    let user_variants =
        json!({"name": "userWithId", "parameters": {"userIds": "7"}, "variants": two_variants()});
    let not_in_user = json!({"name": "default", "constraints": [
        {"contextName": "userId", "operator": "NOT_IN", "values": ["7"]}]});
    vec![
        Case {
            name: "user list without a key",
            flag: flag(json!({"strategies": [users.clone()]})),
            value_type: Boolean,
            context: json!({}),
            expected: key_missing(),
        },
        Case {
            name: "user list with a key",
            flag: flag(json!({"strategies": [users.clone()]})),
            value_type: Boolean,
            context: json!({"userId": "7"}),
            expected: json!({"key": "f", "value": true, "reason": "TARGETING_MATCH", "variant": "on"}),
        },
        Case {
            name: "later static strategy decides a plain boolean",
            flag: flag(json!({"strategies": [users, {"name": "default"}]})),
            value_type: Boolean,
            context: json!({}),
            expected: json!({"key": "f", "value": true, "reason": "STATIC", "variant": "on"}),
        },
        Case {
            name: "skipped strategy with its own variants needs the key",
            flag: flag(json!({"strategies": [user_variants, {"name": "default"}]})),
            value_type: Boolean,
            context: json!({}),
            expected: key_missing(),
        },
        Case {
            name: "NOT_IN on userId matched only because the key is missing",
            flag: flag(json!({"strategies": [not_in_user]})),
            value_type: Boolean,
            context: json!({}),
            expected: key_missing(),
        },
        Case {
            name: "partial default rollout without key or session",
            flag: flag(json!({"strategies": [rollout("50", "default")]})),
            value_type: Boolean,
            context: json!({}),
            expected: key_missing(),
        },
        Case {
            name: "partial default rollout falls back to the session",
            flag: flag(json!({"strategies": [rollout("50", "default")]})),
            value_type: Boolean,
            context: json!({"sessionId": "s1"}),
            expected: json!({"key": "f", "value": true, "reason": "TARGETING_MATCH", "variant": "on"}),
        },
        Case {
            name: "custom stickiness does not need the key",
            flag: flag(json!({"strategies": [rollout("50", "tenant")]})),
            value_type: Boolean,
            context: json!({"properties": {"tenant": "acme"}}),
            expected: json!({"key": "f", "value": false, "reason": "DEFAULT", "variant": "off"}),
        },
        Case {
            name: "variant split without key or session",
            flag: flag(json!({"variants": two_variants()})),
            value_type: Boolean,
            context: json!({}),
            expected: key_missing(),
        },
        Case {
            name: "variant split by session",
            flag: flag(json!({"variants": two_variants()})),
            value_type: Boolean,
            context: json!({"sessionId": "s1"}),
            expected: json!({"key": "f", "value": true, "reason": "SPLIT", "variant": "b",
                "metadata": {"payload": "B", "payloadType": "string"}}),
        },
        Case {
            name: "off in the environment never needs a key",
            flag: json!({"name": "f", "enabled": false, "strategies": [{"name": "userWithId", "parameters": {"userIds": "7"}}]}),
            value_type: Boolean,
            context: json!({}),
            expected: json!({"key": "f", "value": false, "reason": "DISABLED", "variant": "off"}),
        },
    ]
}

#[test]
fn missing_targeting_key_is_reported_only_when_it_decides() {
    run(missing_key_cases());
}

#[test]
fn dependency_on_a_key_targeted_parent_needs_the_key() {
    let state = json!({"version": 2, "features": [
        {"name": "parent", "enabled": true, "strategies": [{"name": "userWithId", "parameters": {"userIds": "7"}}]},
        {"name": "child", "enabled": true, "dependencies": [{"feature": "parent"}]}]});
    let env = typed_environment(state, &[]);
    let error = env.ofrep_single("child", &context(json!({}))).unwrap_err();
    assert_eq!(error.error_code, OfrepErrorCode::TargetingKeyMissing);
    let success = env
        .ofrep_single("child", &context(json!({"userId": "7"})))
        .unwrap();
    assert_eq!(success.value, Some(json!(true)));
}
