//! Segments in words: created with their condition, renamed, their constraints changed, deleted.

use super::words::{self, text};
use super::{constraints, Line};
use serde_json::Value;

fn condition(s: &Value) -> String {
    let cs = words::items(Some(s), "constraints");
    if cs.is_empty() {
        "no constraints (everyone)".into()
    } else {
        constraints::all(cs)
    }
}

pub fn created(after: Option<&Value>) -> Vec<Line> {
    let Some(s) = after else { return Vec::new() };
    let subject = format!("Segment {}", text(s, "name"));
    vec![Line::added(
        &subject,
        condition(s),
        format!("{subject} created: {}", condition(s)),
    )]
}

pub fn deleted(before: Option<&Value>) -> Vec<Line> {
    let Some(s) = before else { return Vec::new() };
    let subject = format!("Segment {}", text(s, "name"));
    vec![Line::removed(
        &subject,
        condition(s),
        format!("{subject} deleted"),
    )]
}

pub fn diff(before: Option<&Value>, after: Option<&Value>) -> Vec<Line> {
    let (Some(b), Some(a)) = (before, after) else {
        return created(after).into_iter().chain(deleted(before)).collect();
    };
    let mut lines = Vec::new();
    for field in ["name", "description"] {
        let (was, now) = (text(b, field), text(a, field));
        if was != now {
            let word = |s: &str| {
                if s.is_empty() {
                    "none".to_string()
                } else {
                    words::cut(s)
                }
            };
            lines.push(Line::changed(words::human(field), word(was), word(now)));
        }
    }
    lines.extend(constraints::diff(
        words::items(before, "constraints"),
        words::items(after, "constraints"),
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn said(lines: Vec<Line>) -> Vec<String> {
        lines.into_iter().map(|l| l.sentence).collect()
    }

    #[test]
    fn segment_changes_read_as_sentences() {
        let b = json!({"name": "nordics", "description": "", "constraints": [
            {"contextName": "country", "operator": "IN", "values": ["NO", "SE"]}]});
        let a = json!({"name": "north", "description": "Nordic countries", "constraints": [
            {"contextName": "country", "operator": "IN", "values": ["NO", "SE", "FI"]},
            {"contextName": "plan", "operator": "NOT_IN", "values": ["free"]}]});
        assert_eq!(
            said(diff(Some(&b), Some(&a))),
            [
                "Name nordics → north",
                "Description none → Nordic countries",
                "Country in NO, SE → NO, SE, FI",
                "Constraint added: plan not in free"
            ]
        );
        assert_eq!(
            said(created(Some(&b))),
            ["Segment nordics created: country in NO, SE"]
        );
        assert_eq!(said(deleted(Some(&a))), ["Segment north deleted"]);
    }
}
