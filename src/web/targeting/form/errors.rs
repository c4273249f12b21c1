//! Validation errors by form field: the service's paths (`strategies[0].constraints[1].value`)
//! mapped onto the form's names (`s0.c1.values`), for templates to show by each field.

use crate::error::PathError;

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
}
