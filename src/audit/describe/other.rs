//! Everything without a describer of its own (people, tokens, webhooks, projects): each top-level
//! field that changed, its values in words.

use super::words::{self, human};
use super::Line;
use serde_json::{Map, Value};

fn object(v: Option<&Value>) -> Map<String, Value> {
    match v {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::Null) | None => Map::new(),
        Some(other) => [("value".to_string(), other.clone())].into_iter().collect(),
    }
}

pub fn fields(before: Option<&Value>, after: Option<&Value>) -> Vec<Line> {
    let (b, a) = (object(before), object(after));
    let mut keys: Vec<&String> = b.keys().collect();
    keys.extend(a.keys().filter(|k| !b.contains_key(*k)));
    let mut lines = Vec::new();
    for k in keys {
        let subject = human(k);
        match (b.get(k), a.get(k)) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => {
                lines.push(Line::changed(subject, words::value(x), words::value(y)))
            }
            (None, Some(y)) => {
                let v = words::value(y);
                lines.push(Line::added(&subject, v.clone(), format!("{subject}: {v}")));
            }
            (Some(x), None) => {
                let v = words::value(x);
                lines.push(Line::removed(
                    &subject,
                    v.clone(),
                    format!("{subject} was {v}"),
                ));
            }
            (None, None) => {}
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn other_fields_read_in_words() {
        let b = json!({"user": "ann@example.com", "role": "viewer"});
        let a = json!({"user": "ann@example.com", "role": "editor", "events": ["flag.killed"]});
        let said: Vec<String> = fields(Some(&b), Some(&a))
            .into_iter()
            .map(|l| l.sentence)
            .collect();
        assert_eq!(said, ["Role viewer → editor", "Events: flag.killed"]);
    }
}
