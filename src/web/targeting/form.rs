//! The targeting form without client script: strategies, constraints and variants as indexed
//! fields (`s0.rollout`, `s0.c1.values`, `s0.v0.weight`; a segment's constraints are `c0.…`).
//! Here: the form's types and numbering, and strategies described in words; `parse` reads them
//! back from the posted pairs, `convert` turns them into the admin API's drafts and back, and
//! `errors` maps validation paths (`strategies[0].parameters.rollout`) onto the field names.

mod convert;
mod errors;
mod parse;

pub use convert::{constraint_form, constraints_of, from_drafts, to_drafts};
pub use errors::FormErrors;
pub use parse::{parse_constraints, parse_strategies};

use crate::evaluation::StrategyDraft;
use unleash_types::client_features::{Constraint, Operator};

/// Every operator of the spec (feed-protocols 3), in the order the select shows them.
pub const OPERATORS: [&str; 19] = [
    "IN",
    "NOT_IN",
    "STR_STARTS_WITH",
    "STR_ENDS_WITH",
    "STR_CONTAINS",
    "NUM_EQ",
    "NUM_GT",
    "NUM_GTE",
    "NUM_LT",
    "NUM_LTE",
    "DATE_AFTER",
    "DATE_BEFORE",
    "SEMVER_EQ",
    "SEMVER_GT",
    "SEMVER_GTE",
    "SEMVER_LT",
    "SEMVER_LTE",
    "REGEX",
    "IN_CIDR",
];

/// The strategies the editor offers, with their labels.
pub const STRATEGIES: [(&str, &str); 5] = [
    ("default", "Everyone (standard)"),
    ("flexibleRollout", "Flexible rollout"),
    ("userWithId", "User ids"),
    ("remoteAddress", "IP addresses"),
    ("applicationHostname", "Host names"),
];

/// Operators that take a list of values; the others compare with one value.
pub fn is_multi(operator: &str) -> bool {
    matches!(
        operator,
        "IN" | "NOT_IN" | "STR_STARTS_WITH" | "STR_ENDS_WITH" | "STR_CONTAINS" | "IN_CIDR"
    )
}

#[derive(Debug, Clone, Default)]
pub struct ConstraintForm {
    /// Field-name prefix, e.g. `s0.c1`.
    pub prefix: String,
    /// The `action` value of its remove button, e.g. `remove-constraint:0:1`.
    pub remove: String,
    pub context: String,
    pub operator: String,
    /// Comma- or newline-separated values (one value for single-value operators).
    pub values: String,
    pub case_insensitive: bool,
    pub inverted: bool,
}

#[derive(Debug, Clone, Default)]
pub struct VariantForm {
    pub prefix: String,
    pub remove: String,
    pub name: String,
    /// A percentage for a fixed weight; blank shares the rest evenly.
    pub weight: String,
    pub payload_type: String,
    pub payload: String,
}

#[derive(Debug, Clone, Default)]
pub struct StrategyForm {
    pub prefix: String,
    pub index: usize,
    pub name: String,
    pub rollout: String,
    pub stickiness: String,
    pub group_id: String,
    pub user_ids: String,
    pub ips: String,
    pub host_names: String,
    /// Parameters the editor has no field for (kept as hidden fields `s0.p.<name>`).
    pub extra: Vec<(String, String)>,
    pub segments: Vec<i64>,
    pub constraints: Vec<ConstraintForm>,
    pub variants: Vec<VariantForm>,
    /// The project's segments with whether this strategy uses each (filled before rendering).
    pub segment_choices: Vec<SegmentChoice>,
}

#[derive(Debug, Clone, Default)]
pub struct SegmentChoice {
    pub id: i64,
    pub name: String,
    pub checked: bool,
}

impl StrategyForm {
    pub fn new(name: &str) -> Self {
        let mut s = StrategyForm {
            name: name.to_string(),
            ..Default::default()
        };
        if name == "flexibleRollout" {
            s.rollout = "100".into();
            s.stickiness = "default".into();
        }
        s
    }

    pub fn label(&self) -> &str {
        STRATEGIES
            .iter()
            .find(|(n, _)| *n == self.name)
            .map_or(self.name.as_str(), |(_, l)| l)
    }
}

/// Numbers the prefixes after adding or removing items.
pub fn renumber(strategies: &mut [StrategyForm]) {
    for (i, s) in strategies.iter_mut().enumerate() {
        s.prefix = format!("s{i}");
        s.index = i;
        renumber_constraints(&mut s.constraints, Some(i));
        for (k, v) in s.variants.iter_mut().enumerate() {
            v.prefix = format!("s{i}.v{k}");
            v.remove = format!("remove-variant:{i}:{k}");
        }
    }
}

/// Constraints of strategy `i`, or of a segment when `None`.
pub fn renumber_constraints(constraints: &mut [ConstraintForm], strategy: Option<usize>) {
    for (j, c) in constraints.iter_mut().enumerate() {
        (c.prefix, c.remove) = match strategy {
            Some(i) => (format!("s{i}.c{j}"), format!("remove-constraint:{i}:{j}")),
            None => (format!("c{j}"), format!("remove-constraint:{j}")),
        };
    }
}

/// Splits a list typed with commas or new lines.
pub fn split_list(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn operator_name(o: &Operator) -> String {
    serde_json::to_value(o)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Weights out of 1000 as a percentage without needless decimals.
fn percent(weight: i32) -> String {
    if weight % 10 == 0 {
        (weight / 10).to_string()
    } else {
        format!("{:.1}", f64::from(weight) / 10.0)
    }
}

fn list(items: &[String]) -> String {
    items.join(", ")
}

/// "country IN NO, SE", "not (version SEMVER_LT 2.0.0)".
pub fn describe_constraint(c: &Constraint) -> String {
    let operator = operator_name(&c.operator);
    let values = if is_multi(&operator) {
        list(&c.values.clone().unwrap_or_default())
    } else {
        c.value.clone().unwrap_or_default()
    };
    let mut text = format!("{} {operator} {values}", c.context_name);
    if c.case_insensitive {
        text.push_str(" (ignoring case)");
    }
    if c.inverted {
        text = format!("not ({text})");
    }
    text
}

/// A strategy in words, as the targeting tab lists it: "Flexible rollout 25 % by userId, group
/// checkout; when country IN NO, SE".
pub fn describe(s: &StrategyDraft, segment_name: impl Fn(i32) -> String) -> String {
    let p = |k: &str| s.parameters.get(k).cloned().unwrap_or_default();
    let ids = |k: &str| list(&split_list(&p(k)));
    let mut text = match s.name.as_str() {
        "default" => "Everyone".to_string(),
        "flexibleRollout" => {
            let sticky = match p("stickiness").as_str() {
                "" => "default".to_string(),
                other => other.to_string(),
            };
            let mut t = format!("Flexible rollout {} % by {sticky}", p("rollout"));
            if !p("groupId").is_empty() {
                t.push_str(&format!(", group {}", p("groupId")));
            }
            t
        }
        "userWithId" => format!("Users {}", ids("userIds")),
        "remoteAddress" => format!("IP addresses {}", ids("IPs")),
        "applicationHostname" => format!("Hosts {}", ids("hostNames")),
        "gradualRolloutUserId" => format!("Gradual rollout {} % by userId", p("percentage")),
        "gradualRolloutSessionId" => {
            format!("Gradual rollout {} % by sessionId", p("percentage"))
        }
        "gradualRolloutRandom" => format!("Random {} %", p("percentage")),
        other => format!("Strategy {other}"),
    };
    if !s.segments.is_empty() {
        let names: Vec<String> = s.segments.iter().map(|i| segment_name(*i)).collect();
        let word = if names.len() == 1 {
            "segment"
        } else {
            "segments"
        };
        text.push_str(&format!("; in {word} {}", names.join(" and ")));
    }
    if !s.constraints.is_empty() {
        let parts: Vec<String> = s.constraints.iter().map(describe_constraint).collect();
        text.push_str(&format!("; when {}", parts.join(" and ")));
    }
    if !s.variants.is_empty() {
        let parts: Vec<String> = s
            .variants
            .iter()
            .map(|v| format!("{} {} %", v.name, percent(v.weight)))
            .collect();
        text.push_str(&format!("; variants {}", parts.join(", ")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use unleash_types::client_features::WeightType;

    #[test]
    fn posted_pairs_become_drafts() {
        let pairs: Vec<(String, String)> = [
            ("s1.name", "userWithId"),
            ("s1.userIds", "1\n2, 3"),
            ("s0.name", "flexibleRollout"),
            ("s0.rollout", "25"),
            ("s0.c0.context", "country"),
            ("s0.c0.operator", "IN"),
            ("s0.c0.values", "NO, SE"),
            ("s0.c0.inv", "on"),
            ("s0.v0.name", "blue"),
            ("s0.v0.weight", "12.5"),
            ("s0.v1.name", "red"),
            ("s0.segment", "4"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let forms = parse_strategies(&pairs);
        assert_eq!(forms.len(), 2);
        let drafts = to_drafts(&forms).unwrap();
        assert_eq!(drafts[0].parameters["rollout"], "25");
        assert_eq!(drafts[0].segments, vec![4]);
        assert!(drafts[0].constraints[0].inverted);
        assert_eq!(drafts[0].variants[0].weight, 125);
        assert_eq!(drafts[0].variants[1].weight_type, WeightType::Variable);
        assert_eq!(drafts[1].parameters["userIds"], "1,2,3");
        let back = from_drafts(&drafts);
        assert_eq!(back[0].variants[0].weight, "12.5");
        assert_eq!(back[0].constraints[0].values, "NO, SE");
        assert_eq!(
            describe(&drafts[0], |i| format!("#{i}")),
            "Flexible rollout 25 % by default; in segment #4; when not (country IN NO, SE); \
             variants blue 12.5 %, red 0 %"
        );
    }
}
