//! A flag's whole configuration in one environment, in words (what the change request page shows
//! before and after, side by side), and imports, which replace it whole.

use super::words::{self, text};
use super::{dependencies, metadata, strategies, switches, variants, Line, Names};
use serde_json::{json, Value};

/// What one environment serves of a flag.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Configuration {
    pub archived: bool,
    pub enabled: bool,
    pub strategies: Vec<Value>,
    pub variants: Vec<Value>,
    pub dependencies: Vec<Value>,
}

impl Configuration {
    /// The configuration with the parts a state holds replaced: `{"enabled": ..}`,
    /// `{"strategies": [..]}`, `{"variants": [..]}`, `{"archived": ..}`, `{"dependencies": [..]}`
    /// (the shapes of audit entries and change request items).
    pub fn with(mut self, state: &Value) -> Configuration {
        let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
        if let Some(on) = state.get("enabled").and_then(Value::as_bool) {
            self.enabled = on;
        }
        if let Some(a) = state.get("archived").and_then(Value::as_bool) {
            self.archived = a;
        }
        if let Some(s) = state.get("strategies") {
            self.strategies = list(s);
        }
        if let Some(v) = state.get("variants") {
            self.variants = list(v);
        }
        if let Some(d) = state.get("dependencies") {
            self.dependencies = list(d);
        }
        self
    }
}

/// The configuration as lines of text, one per switch, strategy, variant list and parent.
pub fn configuration(c: &Configuration, names: &Names) -> Vec<String> {
    let mut lines = Vec::new();
    if c.archived {
        lines.push("Archived: not served to SDKs".to_string());
    }
    lines.push(
        if c.enabled {
            "Switched on"
        } else {
            "Switched off"
        }
        .to_string(),
    );
    if c.strategies.is_empty() {
        lines.push("No strategy: everyone gets the flag while it is on".to_string());
    }
    let numbered = c.strategies.len() > 1;
    for (i, s) in c.strategies.iter().enumerate() {
        let name = if numbered {
            format!("Strategy {}", i + 1)
        } else {
            "Strategy".to_string()
        };
        lines.push(format!("{name}: {}", strategies::phrase(s, names)));
    }
    if !c.variants.is_empty() {
        lines.push(format!("Variants: {}", variants::all(&c.variants)));
    }
    for d in &c.dependencies {
        let on = d.get("enabled").and_then(Value::as_bool).unwrap_or(true);
        lines.push(format!(
            "Depends on {} ({})",
            text(d, "feature"),
            if on { "enabled" } else { "disabled" }
        ));
    }
    lines
}

/// What changed between two configurations, as lines.
fn diff(b: &Configuration, a: &Configuration, names: &Names) -> Vec<Line> {
    let state = |c: &Configuration| json!({"enabled": c.enabled, "archived": c.archived});
    let mut lines = switches::archived(Some(&state(b)), Some(&state(a)));
    lines.extend(switches::enabled(Some(&state(b)), Some(&state(a))));
    lines.extend(strategies::diff(&b.strategies, &a.strategies, names));
    lines.extend(variants::diff(&b.variants, &a.variants));
    lines.extend(dependencies::diff(
        Some(&json!({"dependencies": b.dependencies})),
        Some(&json!({"dependencies": a.dependencies})),
    ));
    lines
}

/// An import: the targeting of one environment replaced whole (`{"enabled", "strategies", ..}`),
/// or a flag of the project's own format with its metadata and every environment.
pub fn imported(before: Option<&Value>, after: Option<&Value>, names: &Names) -> Vec<Line> {
    let Some(a) = after else { return Vec::new() };
    let Some(envs) = a.get("environments").and_then(Value::as_object) else {
        let b = Configuration::default().with(before.unwrap_or(&Value::Null));
        return diff(&b, &Configuration::default().with(a), names);
    };
    let mut lines = metadata::diff(before, after);
    for (env, t) in envs {
        let was = before
            .and_then(|b| b.get("environments"))
            .and_then(|e| e.get(env))
            .map(|t| Configuration::default().with(t))
            .unwrap_or_default();
        let now = Configuration::default().with(t);
        lines.extend(
            diff(&was, &now, names)
                .into_iter()
                .map(|l| l.within(&format!("In {env}"))),
        );
    }
    if lines.len() > 12 {
        let more = lines.len() - 12;
        lines.truncate(12);
        lines.push(Line::note(
            "Import",
            format!("and {} more", words::count(more, "change", "changes")),
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_reads_line_by_line() {
        let c = Configuration::default().with(&json!({
            "enabled": true,
            "strategies": [{"name": "flexibleRollout", "parameters": {"rollout": "30", "stickiness": "default"},
                "constraints": [{"contextName": "country", "operator": "IN", "values": ["DE"]}]}],
            "variants": [{"name": "blue", "weight": 500}, {"name": "red", "weight": 500}],
            "dependencies": [{"feature": "checkout-v2", "enabled": true}],
        }));
        assert_eq!(
            configuration(&c, &Names::default()),
            [
                "Switched on",
                "Strategy: Gradual rollout 30 % of users when country in DE",
                "Variants: blue 50 %, red 50 %",
                "Depends on checkout-v2 (enabled)"
            ]
        );
        let off = Configuration::default();
        assert_eq!(
            configuration(&off, &Names::default()),
            [
                "Switched off",
                "No strategy: everyone gets the flag while it is on"
            ]
        );
    }

    #[test]
    fn an_import_reads_as_what_it_changed() {
        let after = json!({"enabled": true, "strategies": [{"name": "default"}], "variants": [], "dependencies": [], "created": true});
        let said: Vec<String> = imported(None, Some(&after), &Names::default())
            .into_iter()
            .map(|l| l.sentence)
            .collect();
        assert_eq!(
            said,
            ["Switched off → on", "Strategy added: Standard (everyone)"]
        );
    }
}
