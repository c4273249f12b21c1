//! Variant checks: names, weights that normalise, payloads that fit the
//! flag's value type.

use std::collections::HashSet;

use unleash_types::client_features::{Payload, WeightType};

use super::constraint::check_context_name;
use super::formats::is_rule_safe;
use super::{Report, VariantDraft};
use crate::evaluation::payload::parse_number;
use crate::evaluation::weights::normalize_weights;
use crate::evaluation::ValueType;

/// Payload types Unleash knows.
const PAYLOAD_TYPES: [&str; 4] = ["string", "json", "csv", "number"];

pub(super) fn check_variants(
    variants: &[VariantDraft],
    value_type: ValueType,
    path: &str,
    report: &mut Report,
) {
    let specs: Vec<(WeightType, i32)> = variants
        .iter()
        .map(|v| (v.weight_type.clone(), v.weight))
        .collect();
    if let Err(error) = normalize_weights(&specs) {
        report.push(path.to_owned(), "bad-weights", error.to_string());
    }
    let mut names = HashSet::new();
    for (index, variant) in variants.iter().enumerate() {
        let variant_path = format!("{path}[{index}]");
        if variant.name.trim().is_empty() {
            report.push(
                format!("{variant_path}.name"),
                "required",
                "a variant needs a name",
            );
        } else if !names.insert(variant.name.as_str()) {
            report.push(
                format!("{variant_path}.name"),
                "duplicate-name",
                format!("'{}' is used twice", variant.name),
            );
        }
        check_variant(variant, value_type, &variant_path, report);
    }
}

fn check_variant(variant: &VariantDraft, value_type: ValueType, path: &str, report: &mut Report) {
    if variant
        .stickiness
        .as_deref()
        .is_some_and(|s| !is_rule_safe(s))
    {
        report.push(
            format!("{path}.stickiness"),
            "unsafe-text",
            "stickiness cannot contain quotes, backslashes or control characters",
        );
    }
    for (index, o) in variant.overrides.iter().enumerate() {
        check_context_name(
            &o.context_name,
            &format!("{path}.overrides[{index}].contextName"),
            report,
        );
    }
    check_payload(
        variant.payload.as_ref(),
        value_type,
        &format!("{path}.payload"),
        report,
    );
}

fn check_payload(
    payload: Option<&Payload>,
    value_type: ValueType,
    path: &str,
    report: &mut Report,
) {
    let Some(payload) = payload else {
        if value_type != ValueType::Boolean {
            let message = format!(
                "a {} flag's variants need a payload: it is the flag's value",
                type_name(value_type)
            );
            report.push(path.to_owned(), "payload-required", message);
        }
        return;
    };
    let kind = payload.payload_type.as_str();
    if !PAYLOAD_TYPES.contains(&kind) {
        report.push(
            format!("{path}.type"),
            "unknown-payload-type",
            format!("'{kind}' is not one of string, json, csv, number"),
        );
    }
    let value = payload.value.as_str();
    if (kind == "number" || value_type == ValueType::Number) && parse_number(value).is_err() {
        report.push(
            format!("{path}.value"),
            "bad-number",
            format!("'{value}' is not a number"),
        );
    }
    if kind == "json" || value_type == ValueType::Json {
        if let Err(error) = serde_json::from_str::<serde_json::Value>(value) {
            report.push(
                format!("{path}.value"),
                "bad-json",
                format!("not valid JSON: {error}"),
            );
        }
    }
}

fn type_name(value_type: ValueType) -> &'static str {
    match value_type {
        ValueType::Boolean => "boolean",
        ValueType::String => "string",
        ValueType::Number => "number",
        ValueType::Json => "json",
    }
}
