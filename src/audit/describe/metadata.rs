//! A flag's metadata in words: created as what, and each field changed (name, description, type,
//! owner, tags, links).

use super::words::{self, text};
use super::Line;
use serde_json::Value;

fn field(v: &Value, key: &str) -> String {
    match v.get(key) {
        None | Some(Value::Null) => "nobody".into(),
        Some(x) => words::value(x),
    }
}

fn link(l: &Value) -> String {
    format!("{} {}", text(l, "kind"), text(l, "url"))
        .trim()
        .to_string()
}

/// "Flag created: release flag “Checkout v2”, owned by ann@example.com".
pub fn created(after: Option<&Value>) -> Vec<Line> {
    let Some(a) = after else { return Vec::new() };
    let mut what = format!("{} flag “{}”", text(a, "type"), text(a, "name"));
    if !matches!(a.get("owner"), None | Some(Value::Null)) {
        what.push_str(&format!(", owned by {}", field(a, "owner")));
    }
    let tags = words::items(Some(a), "tags");
    if !tags.is_empty() {
        what.push_str(&format!(
            ", tagged {}",
            words::list(tags.iter().map(words::value), ", ")
        ));
    }
    vec![Line::added(
        "Flag",
        what.clone(),
        format!("Flag created: {what}"),
    )]
}

pub fn diff(before: Option<&Value>, after: Option<&Value>) -> Vec<Line> {
    let (Some(b), Some(a)) = (before, after) else {
        return created(after);
    };
    let mut lines = Vec::new();
    for key in ["name", "description", "type", "valueType", "owner"] {
        if b.get(key) != a.get(key) {
            let subject = words::human(key);
            lines.push(if key == "owner" {
                Line::changed(subject, field(b, key), field(a, key))
            } else {
                let word = |v: &Value| {
                    if text(v, key).is_empty() {
                        "none".to_string()
                    } else {
                        words::cut(text(v, key))
                    }
                };
                Line::changed(subject, word(b), word(a))
            });
        }
    }
    let tags = |v: &Value| -> Vec<String> {
        words::items(Some(v), "tags")
            .iter()
            .map(words::value)
            .collect()
    };
    let (bt, at) = (tags(b), tags(a));
    for t in bt.iter().filter(|t| !at.contains(t)) {
        lines.push(Line::removed(
            format!("Tag {t}"),
            t.clone(),
            format!("Tag {t} removed"),
        ));
    }
    for t in at.iter().filter(|t| !bt.contains(t)) {
        lines.push(Line::added(
            format!("Tag {t}"),
            t.clone(),
            format!("Tag {t} added"),
        ));
    }
    let links =
        |v: &Value| -> Vec<String> { words::items(Some(v), "links").iter().map(link).collect() };
    let (bl, al) = (links(b), links(a));
    for l in bl.iter().filter(|l| !al.contains(l)) {
        lines.push(Line::removed(
            "Link",
            l.clone(),
            format!("Link removed: {l}"),
        ));
    }
    for l in al.iter().filter(|l| !bl.contains(l)) {
        lines.push(Line::added("Link", l.clone(), format!("Link added: {l}")));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_changes_read_as_sentences() {
        let b = json!({"name": "Checkout", "description": "", "type": "release", "owner": null,
            "tags": ["web"], "links": []});
        let a = json!({"name": "Checkout v2", "description": "New flow", "type": "experiment",
            "owner": "ann@example.com", "tags": ["web", "q3"],
            "links": [{"kind": "ticket", "url": "https://t.example/1"}]});
        let said: Vec<String> = diff(Some(&b), Some(&a))
            .into_iter()
            .map(|l| l.sentence)
            .collect();
        assert_eq!(
            said,
            [
                "Name Checkout → Checkout v2",
                "Description none → New flow",
                "Type release → experiment",
                "Owner nobody → ann@example.com",
                "Tag q3 added",
                "Link added: ticket https://t.example/1"
            ]
        );
        let made: Vec<String> = created(Some(&a)).into_iter().map(|l| l.sentence).collect();
        assert_eq!(made, ["Flag created: experiment flag “Checkout v2”, owned by ann@example.com, tagged web, q3"]);
    }
}
