//! Validation the admin API runs before storing targeting: strategies,
//! constraints and variants in Unleash's shape, checked against what the
//! engine will really do with them. Every problem is reported (not just the
//! first) with a JSON path, a stable kebab-case code and a sentence.

mod constraint;
mod formats;
mod variant;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use unleash_types::client_features::{Constraint, Override, Payload, WeightType};
use unleash_yggdrasil::KNOWN_STRATEGIES;

use super::ValueType;
use constraint::check_constraint;
use formats::{ends_with_backslash, is_ip_or_cidr, is_percent, is_rule_safe};
use variant::check_variants;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// JSON path, e.g. `strategies[0].constraints[1].value`.
    pub field: String,
    /// Stable kebab-case code, e.g. `bad-semver`.
    pub code: &'static str,
    pub message: String,
}

/// A strategy as the admin API receives it (Unleash's shape).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyDraft {
    pub name: String,
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    #[serde(default)]
    pub constraints: Vec<Constraint>,
    #[serde(default)]
    pub segments: Vec<i32>,
    #[serde(default)]
    pub variants: Vec<VariantDraft>,
}

/// A variant before weight normalisation (Unleash's admin shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantDraft {
    pub name: String,
    #[serde(default)]
    pub weight: i32,
    #[serde(default = "variable")]
    pub weight_type: WeightType,
    #[serde(default)]
    pub stickiness: Option<String>,
    #[serde(default)]
    pub payload: Option<Payload>,
    #[serde(default)]
    pub overrides: Vec<Override>,
}

fn variable() -> WeightType {
    WeightType::Variable
}

/// Problems in a flag's strategy list; paths start at `strategies`. Segment
/// ids are not checked: whether they exist is the store's business.
pub fn validate_strategies(strategies: &[StrategyDraft], value_type: ValueType) -> Vec<FieldError> {
    let mut report = Report::default();
    for (index, strategy) in strategies.iter().enumerate() {
        check_strategy(
            strategy,
            &format!("strategies[{index}]"),
            value_type,
            &mut report,
        );
    }
    report.0
}

/// Problems in a constraint list (a segment's, say); paths start at `field`.
pub fn validate_constraints(constraints: &[Constraint], field: &str) -> Vec<FieldError> {
    let mut report = Report::default();
    check_constraints(constraints, field, &mut report);
    report.0
}

/// Problems in a variant list (flag level or a strategy's); paths start at
/// `field`. Weights must normalise to 1000 and payloads must fit the flag's
/// value type, because OFREP hands the payload out as the value.
pub fn validate_variants(
    variants: &[VariantDraft],
    value_type: ValueType,
    field: &str,
) -> Vec<FieldError> {
    let mut report = Report::default();
    check_variants(variants, value_type, field, &mut report);
    report.0
}

#[derive(Default)]
pub(super) struct Report(Vec<FieldError>);

impl Report {
    fn push(&mut self, field: String, code: &'static str, message: impl Into<String>) {
        let message = message.into();
        self.0.push(FieldError {
            field,
            code,
            message,
        });
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

fn check_strategy(
    strategy: &StrategyDraft,
    path: &str,
    value_type: ValueType,
    report: &mut Report,
) {
    if !KNOWN_STRATEGIES.contains(&strategy.name.as_str()) {
        let message = format!(
            "'{}' is not a built-in strategy; the server would evaluate it as off",
            strategy.name
        );
        report.push(format!("{path}.name"), "unknown-strategy", message);
    }
    check_parameters(strategy, &format!("{path}.parameters"), report);
    check_constraints(
        &strategy.constraints,
        &format!("{path}.constraints"),
        report,
    );
    let variants = format!("{path}.variants");
    check_variants(&strategy.variants, value_type, &variants, report);
    for (index, variant) in strategy.variants.iter().enumerate() {
        if !variant.overrides.is_empty() {
            report.push(
                format!("{variants}[{index}].overrides"),
                "unsupported",
                "only flag-level variants can have overrides",
            );
        }
    }
}

fn check_parameters(strategy: &StrategyDraft, path: &str, report: &mut Report) {
    let params = &strategy.parameters;
    match strategy.name.as_str() {
        "flexibleRollout" => check_percent(params, "rollout", path, report),
        "gradualRolloutUserId" | "gradualRolloutSessionId" | "gradualRolloutRandom" => {
            check_percent(params, "percentage", path, report)
        }
        "userWithId" => check_list(params, "userIds", path, report, |id| {
            !ends_with_backslash(id)
        }),
        "remoteAddress" => check_list(params, "IPs", path, report, is_ip_or_cidr),
        "applicationHostname" => check_list(params, "hostNames", path, report, is_rule_safe),
        _ => {}
    }
    for name in ["groupId", "stickiness"] {
        if params.get(name).is_some_and(|value| !is_rule_safe(value)) {
            let message =
                format!("{name} cannot contain quotes, backslashes or control characters");
            report.push(format!("{path}.{name}"), "unsafe-text", message);
        }
    }
}

/// Without a valid percentage the engine turns the strategy off for everyone.
fn check_percent(params: &BTreeMap<String, String>, name: &str, path: &str, report: &mut Report) {
    let field = format!("{path}.{name}");
    match params.get(name) {
        None => report.push(field, "required", format!("{name} is required")),
        Some(value) if !is_percent(value) => report.push(
            field,
            "bad-rollout",
            format!("{name} must be a whole number from 0 to 100, got '{value}'"),
        ),
        Some(_) => {}
    }
}

/// A comma-separated list parameter; each trimmed entry must pass `valid`.
fn check_list(
    params: &BTreeMap<String, String>,
    name: &str,
    path: &str,
    report: &mut Report,
    valid: fn(&str) -> bool,
) {
    let entries = params
        .get(name)
        .into_iter()
        .flat_map(|list| list.split(','));
    for entry in entries.map(str::trim).filter(|entry| !entry.is_empty()) {
        if !valid(entry) {
            report.push(
                format!("{path}.{name}"),
                "bad-entry",
                format!("'{entry}' is not a valid entry for {name}"),
            );
        }
    }
}

fn check_constraints(constraints: &[Constraint], path: &str, report: &mut Report) {
    for (index, constraint) in constraints.iter().enumerate() {
        check_constraint(constraint, &format!("{path}[{index}]"), report);
    }
}

#[cfg(test)]
mod tests;
