//! The Unleash client specification (`@unleash/client-specification` 6.1.0)
//! run through [`CompiledEnvironment`]'s two public paths: OFREP and the
//! frontend API. Every `tests[]` case (is-enabled) and `variantTests[]` case
//! (get-variant) is checked on both paths.
//!
//! Get the suite with `npm pack @unleash/client-specification@6.1.0` and point
//! `UNLEASH_CLIENT_SPEC_DIR` at the unpacked `package/specifications`. The
//! test fails without it: a conformance check that silently skips is no check.
//!
//! OFREP cannot carry every answer: when a case's context has no `userId` and
//! the flag's targeting reads it, OFREP answers TARGETING_KEY_MISSING by
//! design (the caller's default applies, spec 1.1), so there is no value to
//! compare. Those cases are counted separately and are still checked through
//! the frontend path, which evaluates the same context with the same engine.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{json, Map, Value};
use unleash_types::client_features::{ClientFeatures, ClientFeaturesDelta};

use crate::evaluation::{
    frontend_context_from_body, ofrep_context_from_body, CompiledEnvironment, OfrepError,
    OfrepErrorCode, OfrepReason, OfrepSuccess, RequestDefaults,
};

const SPEC_DIR_VAR: &str = "UNLEASH_CLIENT_SPEC_DIR";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SpecFile {
    pub(super) state: Value,
    #[serde(default)]
    pub(super) tests: Vec<EnabledCase>,
    #[serde(default)]
    pub(super) variant_tests: Vec<VariantCase>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct EnabledCase {
    pub(super) description: String,
    pub(super) context: Value,
    pub(super) toggle_name: String,
    pub(super) expected_result: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct VariantCase {
    pub(super) description: String,
    pub(super) context: Value,
    pub(super) toggle_name: String,
    pub(super) expected_result: Value,
}

#[derive(Default)]
struct Tally {
    cases: usize,
    ofrep_compared: usize,
    ofrep_key_missing: usize,
    /// Descriptions of the TARGETING_KEY_MISSING cases, for the log.
    key_missing_cases: Vec<String>,
    frontend_compared: usize,
    failures: Vec<String>,
}

impl Tally {
    fn check(&mut self, ok: bool, file: &str, description: &str, detail: impl FnOnce() -> String) {
        if !ok {
            self.failures
                .push(format!("{file}: {description}: {}", detail()));
        }
    }
}

#[test]
fn client_specification_passes_through_ofrep_and_frontend() {
    let dir = spec_dir();
    let mut tally = Tally::default();
    let mut summary = String::new();
    for file in spec_files(&dir) {
        let before = (tally.cases, tally.failures.len(), tally.ofrep_key_missing);
        run_file(&dir, &file, &mut tally);
        let (cases, failed, missing) = (
            tally.cases - before.0,
            tally.failures.len() - before.1,
            tally.ofrep_key_missing - before.2,
        );
        let _ = writeln!(
            summary,
            "{file}: {cases} cases, {failed} failed, {missing} OFREP TARGETING_KEY_MISSING"
        );
    }
    println!("{summary}");
    println!(
        "OFREP TARGETING_KEY_MISSING (checked via frontend):\n  {}",
        tally.key_missing_cases.join("\n  ")
    );
    println!(
        "total: {} cases; OFREP compared {}, OFREP TARGETING_KEY_MISSING {}; frontend compared {}; failed {}",
        tally.cases, tally.ofrep_compared, tally.ofrep_key_missing, tally.frontend_compared, tally.failures.len()
    );
    assert_eq!(
        tally.frontend_compared, tally.cases,
        "every case goes through the frontend path"
    );
    assert_eq!(
        tally.ofrep_compared + tally.ofrep_key_missing,
        tally.cases,
        "every case goes through OFREP"
    );
    assert!(
        tally.failures.is_empty(),
        "failures:\n{}",
        tally.failures.join("\n")
    );
}

pub(super) fn spec_dir() -> PathBuf {
    let Some(dir) = std::env::var_os(SPEC_DIR_VAR) else {
        panic!(
            "{SPEC_DIR_VAR} is not set: run `npm pack @unleash/client-specification@6.1.0`, unpack it \
             and set {SPEC_DIR_VAR} to its package/specifications directory"
        );
    };
    PathBuf::from(dir)
}

pub(super) fn spec_files(dir: &Path) -> Vec<String> {
    let index = std::fs::read_to_string(dir.join("index.json")).expect("index.json is readable");
    let files: Vec<String> = serde_json::from_str(&index).expect("index.json is a list of names");
    assert_eq!(files.len(), 22, "client-specification 6.1.0 has 22 files");
    files
}

fn run_file(dir: &Path, file: &str, tally: &mut Tally) {
    let text = std::fs::read_to_string(dir.join(file)).expect("spec file is readable");
    let spec: SpecFile = serde_json::from_str(&text).expect("spec file parses");
    let env = load(spec.state);
    for case in &spec.tests {
        tally.cases += 1;
        check_enabled_frontend(&env, file, case, tally);
        check_enabled_ofrep(&env, file, case, tally);
    }
    for case in &spec.variant_tests {
        tally.cases += 1;
        check_variant_frontend(&env, file, case, tally);
        check_variant_ofrep(&env, file, case, tally);
    }
}

/// Files 19 and 20 hold delta events instead of a state: apply them to an
/// empty environment the way a streaming client would.
pub(super) fn load(state: Value) -> CompiledEnvironment {
    let types = Default::default();
    if state.get("events").is_some() {
        let delta: ClientFeaturesDelta = serde_json::from_value(state).expect("delta parses");
        let empty =
            CompiledEnvironment::build(ClientFeatures::default(), &types, 0).expect("builds");
        return empty.apply_delta(&delta, 1).expect("delta applies");
    }
    let features: ClientFeatures = serde_json::from_value(state).expect("state parses");
    CompiledEnvironment::build(features, &types, 1).expect("builds")
}

fn frontend_variant(env: &CompiledEnvironment, case_context: &Value, flag: &str) -> Option<Value> {
    let body = json!({ "context": case_context }).to_string();
    let ctx = frontend_context_from_body(body.as_bytes(), &RequestDefaults::default())
        .expect("context parses");
    let response = env.frontend_toggles(&ctx);
    let toggle = response
        .toggles
        .into_iter()
        .find(|toggle| toggle.name == flag)?;
    Some(serde_json::to_value(toggle.variant).expect("serialisable"))
}

/// What an OFREP client would send for this Unleash context: userId as the
/// targeting key, every other field and property as a flat attribute.
fn ofrep(
    env: &CompiledEnvironment,
    case_context: &Value,
    flag: &str,
) -> Result<OfrepSuccess, OfrepError> {
    let mut attributes = Map::new();
    for (key, value) in case_context.as_object().cloned().unwrap_or_default() {
        match (key.as_str(), value) {
            ("userId", value) => drop(attributes.insert("targetingKey".into(), value)),
            ("properties", Value::Object(properties)) => attributes.extend(properties),
            (_, value) => drop(attributes.insert(key, value)),
        }
    }
    let body = json!({ "context": attributes }).to_string();
    let ctx = ofrep_context_from_body(body.as_bytes()).expect("context parses");
    env.ofrep_single(flag, &ctx)
}

fn check_enabled_frontend(
    env: &CompiledEnvironment,
    file: &str,
    case: &EnabledCase,
    tally: &mut Tally,
) {
    tally.frontend_compared += 1;
    let listed = frontend_variant(env, &case.context, &case.toggle_name).is_some();
    tally.check(
        listed == case.expected_result,
        file,
        &case.description,
        || {
            format!(
                "frontend listed={listed}, expected enabled={}",
                case.expected_result
            )
        },
    );
}

fn check_enabled_ofrep(
    env: &CompiledEnvironment,
    file: &str,
    case: &EnabledCase,
    tally: &mut Tally,
) {
    let expected = case.expected_result;
    match ofrep(env, &case.context, &case.toggle_name) {
        Ok(success) => {
            tally.ofrep_compared += 1;
            let ok = success.value == Some(Value::Bool(expected))
                && reason_fits(success.reason, expected);
            tally.check(ok, file, &case.description, || {
                format!("OFREP {success:?}, expected {expected}")
            });
        }
        Err(error) => ofrep_error(
            error,
            expected,
            &case.context,
            file,
            &case.description,
            tally,
        ),
    }
}

/// An on answer never carries an off reason and vice versa.
fn reason_fits(reason: OfrepReason, enabled: bool) -> bool {
    let off = matches!(reason, OfrepReason::Disabled | OfrepReason::Default);
    off != enabled
}

/// Errors that are right answers: an unknown flag is off in every SDK, and a
/// missing targeting key is OFREP's by-design refusal (see the module doc).
fn ofrep_error(
    error: OfrepError,
    enabled: bool,
    context: &Value,
    file: &str,
    description: &str,
    tally: &mut Tally,
) {
    match error.error_code {
        OfrepErrorCode::TargetingKeyMissing => {
            tally.ofrep_key_missing += 1;
            tally
                .key_missing_cases
                .push(format!("{file}: {description}"));
            let keyless = context.get("userId").is_none();
            tally.check(keyless, file, description, || {
                "TARGETING_KEY_MISSING despite a userId".into()
            });
        }
        OfrepErrorCode::FlagNotFound => {
            tally.ofrep_compared += 1;
            tally.check(!enabled, file, description, || {
                "FLAG_NOT_FOUND for an enabled flag".into()
            });
        }
        _ => {
            tally.ofrep_compared += 1;
            tally.check(false, file, description, || {
                format!("OFREP error {error:?}")
            });
        }
    }
}

fn check_variant_frontend(
    env: &CompiledEnvironment,
    file: &str,
    case: &VariantCase,
    tally: &mut Tally,
) {
    tally.frontend_compared += 1;
    let expected = &case.expected_result;
    let feature_enabled = expected["feature_enabled"] == json!(true);
    let got = frontend_variant(env, &case.context, &case.toggle_name);
    let ok = match &got {
        Some(variant) => feature_enabled && variant == expected,
        // The frontend API lists only enabled flags: absence is the disabled variant.
        None => !feature_enabled,
    };
    tally.check(ok, file, &case.description, || {
        format!("frontend {got:?}, expected {expected}")
    });
}

fn check_variant_ofrep(
    env: &CompiledEnvironment,
    file: &str,
    case: &VariantCase,
    tally: &mut Tally,
) {
    let expected = &case.expected_result;
    let feature_enabled = expected["feature_enabled"] == json!(true);
    match ofrep(env, &case.context, &case.toggle_name) {
        Ok(success) => {
            tally.ofrep_compared += 1;
            let ok = success.value == Some(Value::Bool(feature_enabled))
                && success.variant == ofrep_variant_name(expected)
                && metadata_payload(&success) == expected.get("payload").cloned();
            tally.check(ok, file, &case.description, || {
                format!("OFREP {success:?}, expected {expected}")
            });
        }
        Err(error) => ofrep_error(
            error,
            feature_enabled,
            &case.context,
            file,
            &case.description,
            tally,
        ),
    }
}

/// OFREP names a boolean flag's answer after its variant, or "on"/"off".
fn ofrep_variant_name(expected: &Value) -> String {
    match (
        expected["enabled"].as_bool(),
        expected["feature_enabled"].as_bool(),
    ) {
        (Some(true), _) => expected["name"].as_str().unwrap_or_default().to_owned(),
        (_, Some(true)) => "on".to_owned(),
        _ => "off".to_owned(),
    }
}

fn metadata_payload(success: &OfrepSuccess) -> Option<Value> {
    let kind = success.metadata.get("payloadType")?;
    let value = success.metadata.get("payload")?;
    Some(json!({"type": kind, "value": value}))
}
