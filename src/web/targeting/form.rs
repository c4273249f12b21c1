//! The targeting form without client script: strategies, constraints and variants as indexed
//! fields (`s0.rollout`, `s0.c1.values`, `s0.v0.weight`; a segment's constraints are `c0.…`),
//! read back from the posted pairs, turned into the admin API's drafts, and described in words.
//! Field paths of validation errors (`strategies[0].parameters.rollout`) map onto these names.

use crate::error::PathError;
use crate::evaluation::StrategyDraft;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use unleash_types::client_features::{Constraint, Operator, WeightType};

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

/// `"c3"` → 3 when `part` is `letter` followed by digits.
fn indexed(part: &str, letter: char) -> Option<usize> {
    part.strip_prefix(letter)?.parse().ok()
}

fn set_constraint(map: &mut BTreeMap<usize, ConstraintForm>, j: usize, field: &str, v: &str) {
    let c = map.entry(j).or_default();
    match field {
        "context" => c.context = v.to_string(),
        "operator" => c.operator = v.to_string(),
        "values" => c.values = v.to_string(),
        "ci" => c.case_insensitive = true,
        "inv" => c.inverted = true,
        _ => {}
    }
}

/// A segment's constraints from `c0.context`, … pairs.
pub fn parse_constraints(pairs: &[(String, String)]) -> Vec<ConstraintForm> {
    let mut map = BTreeMap::new();
    for (k, v) in pairs {
        let mut parts = k.splitn(2, '.');
        if let (Some(Some(j)), Some(field)) = (parts.next().map(|p| indexed(p, 'c')), parts.next())
        {
            set_constraint(&mut map, j, field, v);
        }
    }
    let mut out: Vec<ConstraintForm> = map.into_values().collect();
    renumber_constraints(&mut out, None);
    out
}

#[derive(Default)]
struct Parsing {
    form: StrategyForm,
    constraints: BTreeMap<usize, ConstraintForm>,
    variants: BTreeMap<usize, VariantForm>,
}

/// The strategies from the posted pairs, in index order.
pub fn parse_strategies(pairs: &[(String, String)]) -> Vec<StrategyForm> {
    let mut map: BTreeMap<usize, Parsing> = BTreeMap::new();
    for (k, v) in pairs {
        let parts: Vec<&str> = k.split('.').collect();
        let Some(i) = parts.first().and_then(|p| indexed(p, 's')) else {
            continue;
        };
        let p = map.entry(i).or_default();
        match parts[1..] {
            [field] => match field {
                "name" => p.form.name = v.clone(),
                "rollout" => p.form.rollout = v.clone(),
                "stickiness" => p.form.stickiness = v.clone(),
                "groupId" => p.form.group_id = v.clone(),
                "userIds" => p.form.user_ids = v.clone(),
                "IPs" => p.form.ips = v.clone(),
                "hostNames" => p.form.host_names = v.clone(),
                "segment" => p.form.segments.extend(v.parse::<i64>().ok()),
                _ => {}
            },
            ["p", name] => p.form.extra.push((name.to_string(), v.clone())),
            [item, field] => {
                if let Some(j) = indexed(item, 'c') {
                    set_constraint(&mut p.constraints, j, field, v);
                } else if let Some(k) = indexed(item, 'v') {
                    let var = p.variants.entry(k).or_default();
                    match field {
                        "name" => var.name = v.clone(),
                        "weight" => var.weight = v.clone(),
                        "payloadType" => var.payload_type = v.clone(),
                        "payload" => var.payload = v.clone(),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    let mut out: Vec<StrategyForm> = map
        .into_values()
        .map(|mut p| {
            p.form.constraints = p.constraints.into_values().collect();
            p.form.variants = p.variants.into_values().collect();
            p.form
        })
        .collect();
    renumber(&mut out);
    out
}

/// Splits a list typed with commas or new lines.
pub fn split_list(text: &str) -> Vec<String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn constraint_json(c: &ConstraintForm) -> Value {
    let mut out = json!({
        "contextName": c.context.trim(),
        "operator": c.operator,
        "caseInsensitive": c.case_insensitive,
        "inverted": c.inverted,
    });
    if is_multi(&c.operator) {
        out["values"] = json!(split_list(&c.values));
    } else if !c.values.trim().is_empty() {
        out["value"] = json!(c.values.trim());
    }
    out
}

/// The constraints as the engine's type; problems are reported at `<prefix>` of each.
pub fn constraints_of(forms: &[ConstraintForm]) -> Result<Vec<Constraint>, Vec<PathError>> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for c in forms {
        match serde_json::from_value::<Constraint>(constraint_json(c)) {
            Ok(v) => out.push(v),
            Err(e) => errors.push(PathError {
                field: format!("{}.operator", c.prefix),
                message: format!("this constraint cannot be read: {e}"),
            }),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A percentage with at most one decimal, as a weight out of 1000.
fn weight_of(text: &str) -> Option<i32> {
    let p: f64 = text.trim().trim_end_matches('%').trim().parse().ok()?;
    let w = (p * 10.0).round();
    ((0.0..=1000.0).contains(&(p * 10.0)) && (p * 10.0 - w).abs() < 1e-6).then_some(w as i32)
}

/// The drafts the service validates; errors here are the form's own (a weight that is not a
/// percentage), keyed by form field name.
pub fn to_drafts(forms: &[StrategyForm]) -> Result<Vec<StrategyDraft>, Vec<PathError>> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for s in forms {
        let mut params = Map::new();
        let mut param = |name: &str, value: String| {
            if !value.is_empty() {
                params.insert(name.to_string(), Value::String(value));
            }
        };
        for (k, v) in &s.extra {
            param(k, v.clone());
        }
        match s.name.as_str() {
            "flexibleRollout" => {
                param("rollout", s.rollout.trim().to_string());
                param("stickiness", s.stickiness.trim().to_string());
                param("groupId", s.group_id.trim().to_string());
            }
            "userWithId" => param("userIds", split_list(&s.user_ids).join(",")),
            "remoteAddress" => param("IPs", split_list(&s.ips).join(",")),
            "applicationHostname" => param("hostNames", split_list(&s.host_names).join(",")),
            _ => {}
        }
        if s.name == "flexibleRollout" && !params.contains_key("rollout") {
            params.insert("rollout".into(), Value::String(String::new()));
        }
        let mut variants = Vec::new();
        for v in &s.variants {
            let mut item = json!({ "name": v.name.trim() });
            if v.weight.trim().is_empty() {
                item["weightType"] = json!("variable");
            } else if let Some(w) = weight_of(&v.weight) {
                item["weightType"] = json!("fix");
                item["weight"] = json!(w);
            } else {
                errors.push(PathError {
                    field: format!("{}.weight", v.prefix),
                    message: "a percentage like 25 or 12.5, or blank to share the rest".into(),
                });
            }
            if !v.payload_type.is_empty() {
                item["payload"] = json!({ "type": v.payload_type, "value": v.payload });
            }
            variants.push(item);
        }
        let constraints: Vec<Value> = s.constraints.iter().map(constraint_json).collect();
        let draft = json!({
            "name": s.name,
            "parameters": params,
            "constraints": constraints,
            "segments": s.segments,
            "variants": variants,
        });
        match serde_json::from_value::<StrategyDraft>(draft) {
            Ok(d) => out.push(d),
            Err(e) => errors.push(PathError {
                field: format!("{}.name", s.prefix),
                message: format!("this strategy cannot be read: {e}"),
            }),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn operator_name(o: &Operator) -> String {
    serde_json::to_value(o)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

pub fn constraint_form(c: &Constraint) -> ConstraintForm {
    let operator = operator_name(&c.operator);
    let values = if is_multi(&operator) {
        c.values.clone().unwrap_or_default().join(", ")
    } else {
        c.value.clone().unwrap_or_default()
    };
    ConstraintForm {
        prefix: String::new(),
        remove: String::new(),
        context: c.context_name.clone(),
        operator,
        values,
        case_insensitive: c.case_insensitive,
        inverted: c.inverted,
    }
}

/// Weights out of 1000 as a percentage without needless decimals.
fn percent(weight: i32) -> String {
    if weight % 10 == 0 {
        (weight / 10).to_string()
    } else {
        format!("{:.1}", f64::from(weight) / 10.0)
    }
}

/// The stored strategies as the form shows them.
pub fn from_drafts(drafts: &[StrategyDraft]) -> Vec<StrategyForm> {
    let mut out: Vec<StrategyForm> = drafts
        .iter()
        .map(|d| {
            let mut s = StrategyForm {
                name: d.name.clone(),
                segments: d.segments.iter().map(|i| i64::from(*i)).collect(),
                constraints: d.constraints.iter().map(constraint_form).collect(),
                ..Default::default()
            };
            for (k, v) in &d.parameters {
                match (d.name.as_str(), k.as_str()) {
                    ("flexibleRollout", "rollout") => s.rollout = v.clone(),
                    ("flexibleRollout", "stickiness") => s.stickiness = v.clone(),
                    ("flexibleRollout", "groupId") => s.group_id = v.clone(),
                    ("userWithId", "userIds") => s.user_ids = split_list(v).join(", "),
                    ("remoteAddress", "IPs") => s.ips = split_list(v).join(", "),
                    ("applicationHostname", "hostNames") => s.host_names = split_list(v).join(", "),
                    _ => s.extra.push((k.clone(), v.clone())),
                }
            }
            s.variants = d
                .variants
                .iter()
                .map(|v| VariantForm {
                    prefix: String::new(),
                    remove: String::new(),
                    name: v.name.clone(),
                    weight: if v.weight_type == WeightType::Fix {
                        percent(v.weight)
                    } else {
                        String::new()
                    },
                    payload_type: v
                        .payload
                        .as_ref()
                        .map(|p| p.payload_type.clone())
                        .unwrap_or_default(),
                    payload: v
                        .payload
                        .as_ref()
                        .map(|p| p.value.clone())
                        .unwrap_or_default(),
                })
                .collect();
            s
        })
        .collect();
    renumber(&mut out);
    out
}

/// `strategies[0].constraints[1].value` → `s0.c1.values`; a segment's `constraints[0].…` →
/// `c0.…`.
pub fn form_key(path: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for seg in path.split('.') {
        let (name, index) = match seg.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (seg, None),
        };
        let last = match (name, index) {
            ("strategies", Some(i)) => {
                parts.push(format!("s{i}"));
                false
            }
            ("constraints", Some(j)) => {
                parts.push(format!("c{j}"));
                false
            }
            ("variants", Some(k)) => {
                parts.push(format!("v{k}"));
                false
            }
            ("parameters", _) => false,
            ("segments", _) => {
                parts.push("segments".into());
                true
            }
            ("values" | "value", _) => {
                parts.push("values".into());
                true
            }
            ("contextName", _) => {
                parts.push("context".into());
                true
            }
            ("payload", _) => {
                parts.push("payload".into());
                true
            }
            (other, _) => {
                parts.push(other.to_string());
                false
            }
        };
        if last {
            break;
        }
    }
    parts.join(".")
}

/// Field errors by form name, for templates: `errors.at(prefix, "rollout")`.
#[derive(Debug, Default, Clone)]
pub struct FormErrors(pub Vec<PathError>);

/// Field names the form shows errors next to; anything else goes in the summary.
const PLACED: [&str; 16] = [
    "name",
    "rollout",
    "stickiness",
    "groupId",
    "userIds",
    "IPs",
    "hostNames",
    "segments",
    "variants",
    "context",
    "operator",
    "values",
    "weight",
    "payload",
    "description",
    "constraint",
];

impl FormErrors {
    /// From validation paths (JSON) or form names (already mapped).
    pub fn from_paths(errors: Vec<PathError>) -> Self {
        FormErrors(
            errors
                .into_iter()
                .map(|e| PathError {
                    field: form_key(&e.field),
                    message: crate::web::sentence(&e.message),
                })
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == key)
            .map(|e| e.message.as_str())
    }

    /// The error at `<prefix>.<field>`, or at `<field>` when the prefix is empty.
    pub fn at(&self, prefix: &str, field: &str) -> Option<&str> {
        if prefix.is_empty() {
            self.get(field)
        } else {
            self.get(&format!("{prefix}.{field}"))
        }
    }

    /// Errors about a whole item (e.g. `s0.c1`, the engine refusing a constraint).
    pub fn whole(&self, prefix: &str) -> Option<&str> {
        self.get(prefix)
    }

    /// Errors with no field of their own on the page.
    pub fn unplaced(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|e| {
                let last = e.field.rsplit('.').next().unwrap_or("");
                let whole_item = last.starts_with('c') && last[1..].parse::<usize>().is_ok();
                !(PLACED.contains(&last) || whole_item)
            })
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect()
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

    #[test]
    fn validation_paths_map_to_form_names() {
        for (path, key) in [
            ("strategies[0].parameters.rollout", "s0.rollout"),
            ("strategies[2].constraints[1].value", "s2.c1.values"),
            ("strategies[0].constraints[0].values[3]", "s0.c0.values"),
            ("strategies[0].constraints[0].contextName", "s0.c0.context"),
            ("strategies[0].constraints[0]", "s0.c0"),
            ("strategies[1].variants", "s1.variants"),
            ("strategies[1].variants[0].payload.value", "s1.v0.payload"),
            ("strategies[0].segments[0]", "s0.segments"),
            ("constraints[0].value", "c0.values"),
            ("name", "name"),
        ] {
            assert_eq!(form_key(path), key, "{path}");
        }
    }

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

    #[test]
    fn weights_are_percentages_with_one_decimal() {
        assert_eq!(weight_of("25"), Some(250));
        assert_eq!(weight_of("12.5 %"), Some(125));
        assert_eq!(weight_of("12.55"), None);
        assert_eq!(weight_of("101"), None);
        assert_eq!(weight_of("x"), None);
    }
}
