//! Constraint checks: the operator is known, its value has the exact form
//! the engine's grammar reads, and the engine really compiles it.

use std::collections::HashMap;

use regex::RegexBuilder;
use unleash_types::client_features::{Constraint, Operator, Strategy};
use unleash_yggdrasil::strategy_parsing::compile_rule;
use unleash_yggdrasil::strategy_upgrade::upgrade;

use super::formats::{
    ends_with_backslash, is_grammar_date, is_grammar_semver, is_ip_or_cidr, is_rule_safe,
};
use super::Report;
use crate::evaluation::payload::parse_number;

pub(super) fn check_constraint(constraint: &Constraint, path: &str, report: &mut Report) {
    let before = report.len();
    check_context_name(
        &constraint.context_name,
        &format!("{path}.contextName"),
        report,
    );
    match &constraint.operator {
        Operator::Unknown(name) => report.push(
            format!("{path}.operator"),
            "unknown-operator",
            format!("'{name}' is not a constraint operator"),
        ),
        Operator::InCidr => check_values(constraint, path, report, check_cidr),
        Operator::In
        | Operator::NotIn
        | Operator::StrStartsWith
        | Operator::StrEndsWith
        | Operator::StrContains => check_values(constraint, path, report, check_quoted),
        operator => check_single_value(operator, constraint, path, report),
    }
    // Only worth asking the engine once our own checks pass; its messages
    // are less helpful than ours.
    if report.len() == before {
        check_engine_compiles(constraint, path, report);
    }
}

pub(super) fn check_context_name(name: &str, path: &str, report: &mut Report) {
    if name.trim().is_empty() {
        report.push(
            path.to_owned(),
            "required",
            "a context field name is required",
        );
    } else if !is_rule_safe(name) {
        report.push(
            path.to_owned(),
            "unsafe-text",
            "a context field name cannot contain quotes, backslashes or control characters",
        );
    }
}

type ValueCheck = fn(&str, String, &mut Report);

fn check_values(constraint: &Constraint, path: &str, report: &mut Report, check: ValueCheck) {
    for (index, value) in constraint.values.iter().flatten().enumerate() {
        check(value, format!("{path}.values[{index}]"), report);
    }
}

fn check_quoted(value: &str, path: String, report: &mut Report) {
    if ends_with_backslash(value) {
        report.push(
            path,
            "trailing-backslash",
            "a value cannot end with a backslash: the evaluation engine misreads it",
        );
    }
}

fn check_cidr(value: &str, path: String, report: &mut Report) {
    if !is_ip_or_cidr(value) {
        report.push(
            path,
            "bad-ip",
            format!("'{value}' is not an IP address or CIDR block"),
        );
    }
}

fn check_single_value(
    operator: &Operator,
    constraint: &Constraint,
    path: &str,
    report: &mut Report,
) {
    let path = format!("{path}.value");
    let Some(value) = constraint.value.as_deref() else {
        report.push(
            path,
            "required",
            "this operator compares with a single `value`",
        );
        return;
    };
    let problem = match operator {
        Operator::NumEq | Operator::NumGt | Operator::NumGte | Operator::NumLt | Operator::NumLte => {
            parse_number(value).err().map(|_| ("bad-number", format!("'{value}' is not a number")))
        }
        Operator::DateAfter | Operator::DateBefore => (!is_grammar_date(value)).then(|| {
            ("bad-date", format!("'{value}' is not a date like 2024-01-31T10:00:00Z or 2024-01-31T10:00:00.000+02:00"))
        }),
        Operator::SemverEq | Operator::SemverGt | Operator::SemverGte | Operator::SemverLt | Operator::SemverLte => {
            (!is_grammar_semver(value))
                .then(|| ("bad-semver", format!("'{value}' is not a semantic version like 1.2.3 or 1.2.3-rc.1")))
        }
        Operator::RegexMatch => regex_problem(value, constraint.case_insensitive),
        _ => None,
    };
    if let Some((code, message)) = problem {
        report.push(path, code, message);
    }
}

/// The engine builds the regex with the same crate and silently evaluates an
/// invalid one as false, so reject it here instead.
fn regex_problem(pattern: &str, case_insensitive: bool) -> Option<(&'static str, String)> {
    if ends_with_backslash(pattern) {
        return Some((
            "trailing-backslash",
            "a pattern cannot end with a backslash: the evaluation engine misreads it".to_owned(),
        ));
    }
    let built = RegexBuilder::new(pattern)
        .case_insensitive(case_insensitive)
        .build();
    built.err().map(|error| {
        (
            "bad-regex",
            format!("not a valid regular expression: {error}"),
        )
    })
}

/// The last word goes to yggdrasil: compile the constraint alone, exactly as
/// it will be compiled in a flag.
fn check_engine_compiles(constraint: &Constraint, path: &str, report: &mut Report) {
    let strategy = Strategy {
        name: "default".to_owned(),
        sort_order: None,
        segments: None,
        constraints: Some(vec![constraint.clone()]),
        parameters: None,
        variants: None,
    };
    let compiled =
        upgrade(&[strategy], &HashMap::new()).and_then(|text| compile_rule(&text).map(|_| ()));
    if let Err(error) = compiled {
        report.push(
            path.to_owned(),
            "engine-rejected",
            format!("the evaluation engine cannot compile this constraint: {error:?}"),
        );
    }
}
