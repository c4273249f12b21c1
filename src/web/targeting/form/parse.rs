//! Reads the form back from the posted pairs (`s0.rollout`, `s0.c1.values`, `c0.context`…), in
//! index order, whatever order the browser sent them in.

use super::{renumber, renumber_constraints, ConstraintForm, StrategyForm, VariantForm};
use std::collections::BTreeMap;

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
