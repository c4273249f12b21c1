//! The form to the admin API's drafts (the service validates them) and the stored drafts back to
//! the form. Errors found here are the form's own (a weight that is not a percentage), keyed by
//! field name.

use super::{is_multi, operator_name, percent, renumber, split_list};
use super::{ConstraintForm, StrategyForm, VariantForm};
use crate::error::PathError;
use crate::evaluation::StrategyDraft;
use serde_json::{json, Map, Value};
use unleash_types::client_features::{Constraint, WeightType};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_percentages_with_one_decimal() {
        assert_eq!(weight_of("25"), Some(250));
        assert_eq!(weight_of("12.5 %"), Some(125));
        assert_eq!(weight_of("12.55"), None);
        assert_eq!(weight_of("101"), None);
        assert_eq!(weight_of("x"), None);
    }
}
