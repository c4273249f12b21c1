//! A flag's parents in words: "Depends on checkout-v2 (enabled) removed".

use super::words::{self, text};
use super::Line;
use serde_json::Value;

/// "checkout-v2 (enabled)", "checkout-v2 (disabled)", "checkout-v2 (enabled, variant blue or red)".
fn condition(d: &Value) -> String {
    let on = d.get("enabled").and_then(Value::as_bool).unwrap_or(true);
    let variants: Vec<String> = words::items(Some(d), "variants")
        .iter()
        .map(words::value)
        .collect();
    match (on, variants.is_empty()) {
        (false, _) => "disabled".into(),
        (true, true) => "enabled".into(),
        (true, false) => format!("enabled, variant {}", variants.join(" or ")),
    }
}

pub fn diff(before: Option<&Value>, after: Option<&Value>) -> Vec<Line> {
    let (was, now) = (
        words::items(before, "dependencies"),
        words::items(after, "dependencies"),
    );
    let find =
        |list: &[Value], parent: &str| list.iter().find(|d| text(d, "feature") == parent).cloned();
    let mut lines = Vec::new();
    for b in was {
        let parent = text(b, "feature");
        let subject = format!("Depends on {parent}");
        match find(now, parent) {
            None => {
                let what = format!("{subject} ({})", condition(b));
                lines.push(Line::removed(
                    &subject,
                    condition(b),
                    format!("{what} removed"),
                ));
            }
            Some(a) if condition(b) != condition(&a) => {
                lines.push(Line::changed(&subject, condition(b), condition(&a)));
            }
            Some(_) => {}
        }
    }
    for a in now
        .iter()
        .filter(|a| find(was, text(a, "feature")).is_none())
    {
        let subject = format!("Depends on {}", text(a, "feature"));
        let what = format!("{subject} ({})", condition(a));
        lines.push(Line::added(&subject, condition(a), format!("{what} added")));
    }
    let envs = words::items(after, "environments");
    if !lines.is_empty() && !envs.is_empty() {
        let envs = words::list(envs.iter().map(words::value), ", ");
        lines.push(Line::note(
            "Environments",
            format!("Serves differently in {envs}"),
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parents_added_removed_and_changed() {
        let before = json!({"dependencies": [
            {"feature": "checkout-v2", "enabled": true, "variants": []},
            {"feature": "search", "enabled": true, "variants": []}]});
        let after = json!({"dependencies": [
            {"feature": "search", "enabled": true, "variants": ["blue", "red"]},
            {"feature": "legacy", "enabled": false}], "environments": ["production"]});
        let said: Vec<String> = diff(Some(&before), Some(&after))
            .into_iter()
            .map(|l| l.sentence)
            .collect();
        assert_eq!(
            said,
            [
                "Depends on checkout-v2 (enabled) removed",
                "Depends on search enabled → enabled, variant blue or red",
                "Depends on legacy (disabled) added",
                "Serves differently in production"
            ]
        );
    }
}
