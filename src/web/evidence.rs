//! A stale reason's evidence (the JSON the lifecycle assessment stored) as labelled lines a
//! person reads: nested fields joined by "›", lists by commas, times short. The flag's Lifecycle
//! tab and the stale-flag reports show it alike.

use crate::web::text::short_time;
use serde_json::Value;

/// Evidence as readable lines: nested fields joined by "›", lists by commas.
pub fn evidence_lines(prefix: &str, v: &Value) -> Vec<(String, String)> {
    let label = |k: &str| {
        if prefix.is_empty() {
            words(k)
        } else {
            format!("{prefix} › {}", words(k))
        }
    };
    match v {
        Value::Object(o) => o
            .iter()
            .flat_map(|(k, v)| match v {
                Value::Object(_) => evidence_lines(&label(k), v),
                Value::Array(items) if items.iter().any(Value::is_object) => items
                    .iter()
                    .enumerate()
                    .flat_map(|(i, item)| evidence_lines(&format!("{} {}", label(k), i + 1), item))
                    .collect(),
                _ => vec![(label(k), plain(v))],
            })
            .collect(),
        _ => vec![(prefix.to_string(), plain(v))],
    }
}

/// `lastEvaluatedAt` → "last evaluated at".
fn words(key: &str) -> String {
    let mut out = String::new();
    for c in key.chars() {
        if c.is_uppercase() {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn plain(v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::String(s) if crate::clock::parse_stamp(s).is_some() => short_time(s),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.is_empty() => "none".into(),
        Value::Array(a) => a.iter().map(plain).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evidence_reads_as_labelled_lines() {
        let v = json!({"windowDays": 30, "environments": [
            {"environment": "production", "lastEvaluatedAt": null, "apps": ["shop", "api"]}]});
        let lines = evidence_lines("", &v);
        assert!(
            lines.contains(&("window days".into(), "30".into())),
            "{lines:?}"
        );
        assert!(lines.contains(&("environments 1 › apps".into(), "shop, api".into())));
        assert!(lines.contains(&("environments 1 › last evaluated at".into(), "none".into())));
    }
}
