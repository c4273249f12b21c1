//! Variants in words: "blue 50 %", and what changed between two lists of them ("Variant blue
//! weight 50 % → 30 %"). Flag-level variants and a strategy's variants read the same.

use super::words::{self, text};
use super::Line;
use serde_json::Value;

fn weight(v: &Value) -> String {
    match v.get("weight").and_then(Value::as_i64) {
        Some(w) => words::weight(w),
        None => "no weight".into(),
    }
}

/// A payload as its value reads: text in quotes, a number or JSON as written.
fn payload(v: &Value) -> String {
    match v.get("payload") {
        None | Some(Value::Null) => "none".into(),
        Some(p) => {
            let value = p.get("value").map(words::value).unwrap_or_default();
            match text(p, "type") {
                "string" => format!("“{value}”"),
                "" => value,
                kind => format!("{value} ({kind})"),
            }
        }
    }
}

/// Overrides as "userId ann, bob; country NO".
fn overrides(v: &Value) -> String {
    let parts: Vec<String> = words::items(Some(v), "overrides")
        .iter()
        .map(|o| {
            format!(
                "{} {}",
                text(o, "contextName"),
                o.get("values").map(words::value).unwrap_or_default()
            )
        })
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join("; ")
    }
}

fn stickiness(vs: &[Value]) -> String {
    match vs.first().map(|v| text(v, "stickiness")) {
        None | Some("") => "default".into(),
        Some(s) => s.to_string(),
    }
}

/// One variant in a phrase: "blue 50 %", with its payload when it has one.
fn one(v: &Value) -> String {
    let mut t = format!("{} {}", text(v, "name"), weight(v));
    if !matches!(v.get("payload"), None | Some(Value::Null)) {
        t.push_str(&format!(" with payload {}", payload(v)));
    }
    t
}

/// A list of variants: "blue 50 %, red 50 %".
pub fn all(vs: &[Value]) -> String {
    words::list(vs.iter().map(one), ", ")
}

/// What changed between two lists of variants, matched by name.
pub fn diff(before: &[Value], after: &[Value]) -> Vec<Line> {
    let find = |list: &[Value], name: &str| list.iter().find(|v| text(v, "name") == name).cloned();
    let mut lines = Vec::new();
    for b in before {
        let name = text(b, "name");
        let subject = format!("Variant {name}");
        let Some(a) = find(after, name) else {
            lines.push(Line::removed(
                &subject,
                one(b),
                format!("{subject} removed (was {})", weight(b)),
            ));
            continue;
        };
        if weight(b) != weight(&a) {
            lines.push(Line::changed(
                format!("{subject} weight"),
                weight(b),
                weight(&a),
            ));
        }
        if text(b, "weightType") != text(&a, "weightType") && !text(b, "weightType").is_empty() {
            let kind = |v: &Value| {
                if text(v, "weightType") == "fix" {
                    "fixed"
                } else {
                    "shared"
                }
                .to_string()
            };
            lines.push(Line::changed(
                format!("{subject} weight"),
                kind(b),
                kind(&a),
            ));
        }
        if payload(b) != payload(&a) {
            lines.push(Line::changed(
                format!("{subject} payload"),
                payload(b),
                payload(&a),
            ));
        }
        if overrides(b) != overrides(&a) {
            lines.push(Line::changed(
                format!("{subject} overrides"),
                overrides(b),
                overrides(&a),
            ));
        }
    }
    for a in after
        .iter()
        .filter(|a| find(before, text(a, "name")).is_none())
    {
        let subject = format!("Variant {}", text(a, "name"));
        let what = one(a);
        let rest = what
            .strip_prefix(text(a, "name"))
            .unwrap_or(&what)
            .trim()
            .to_string();
        lines.push(Line::added(
            &subject,
            what,
            format!("{subject} added: {rest}"),
        ));
    }
    if !before.is_empty() && !after.is_empty() && stickiness(before) != stickiness(after) {
        lines.push(Line::changed(
            "Variant stickiness",
            stickiness(before),
            stickiness(after),
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sentences(before: Value, after: Value) -> Vec<String> {
        let (b, a) = (
            before.as_array().cloned().unwrap(),
            after.as_array().cloned().unwrap(),
        );
        diff(&b, &a).into_iter().map(|l| l.sentence).collect()
    }

    #[test]
    fn weights_read_in_percent_and_variants_are_matched_by_name() {
        let before = json!([{"name": "blue", "weight": 500}, {"name": "red", "weight": 500}]);
        let after = json!([{"name": "blue", "weight": 300}, {"name": "green", "weight": 700}]);
        assert_eq!(
            sentences(before, after),
            [
                "Variant blue weight 50 % → 30 %",
                "Variant red removed (was 50 %)",
                "Variant green added: 70 %"
            ]
        );
    }

    #[test]
    fn payloads_overrides_fixed_weights_and_stickiness() {
        let before = json!([{"name": "blue", "weight": 1000, "weightType": "variable", "stickiness": "default",
            "payload": {"type": "string", "value": "a"}}]);
        let after = json!([{"name": "blue", "weight": 1000, "weightType": "fix", "stickiness": "userId",
            "payload": {"type": "json", "value": "{\"x\":1}"},
            "overrides": [{"contextName": "userId", "values": ["ann", "bob"]}]}]);
        assert_eq!(
            sentences(before, after),
            [
                "Variant blue weight shared → fixed",
                "Variant blue payload “a” → {\"x\":1} (json)",
                "Variant blue overrides none → userId ann, bob",
                "Variant stickiness default → userId"
            ]
        );
    }

    #[test]
    fn an_added_variant_names_its_payload_and_lists_read_whole() {
        let after =
            json!([{"name": "green", "weight": 250, "payload": {"type": "number", "value": "3"}}]);
        assert_eq!(
            sentences(json!([]), after.clone()),
            ["Variant green added: 25 % with payload 3 (number)"]
        );
        assert_eq!(
            all(after.as_array().unwrap()),
            "green 25 % with payload 3 (number)"
        );
        assert!(sentences(after.clone(), after).is_empty());
    }
}
