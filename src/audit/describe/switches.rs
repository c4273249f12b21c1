//! Switches in words: on and off, the emergency kill and its acknowledgement, archiving and
//! reviving.

use super::words;
use super::Line;
use serde_json::Value;

fn on_off(v: Option<&Value>) -> Option<&'static str> {
    match v.and_then(|v| v.get("enabled")).and_then(Value::as_bool) {
        Some(true) => Some("on"),
        Some(false) => Some("off"),
        None => None,
    }
}

/// "Switched off → on".
pub fn enabled(before: Option<&Value>, after: Option<&Value>) -> Vec<Line> {
    match (on_off(before), on_off(after)) {
        (b, Some(a)) if b != Some(a) => {
            vec![Line::changed(
                "Switched",
                b.unwrap_or("off").into(),
                a.into(),
            )]
        }
        _ => Vec::new(),
    }
}

/// The kill switch: off at once, without review.
pub fn killed(before: Option<&Value>) -> Vec<Line> {
    let was = on_off(before).unwrap_or("on");
    vec![Line {
        sentence: format!("Killed in an emergency: switched {was} → off, without review"),
        ..Line::changed("Switched", was.into(), "off".into())
    }]
}

/// The sign-off of a kill: whose kill and why, and the acknowledger's note.
pub fn kill_acknowledged(after: Option<&Value>) -> Vec<Line> {
    let field = |k| after.map(|a| words::text(a, k)).unwrap_or("");
    let (by, why, note) = (field("killedBy"), field("killReason"), field("note"));
    let mut sentence = "Emergency kill acknowledged".to_string();
    match (by.is_empty(), why.is_empty()) {
        (false, false) => sentence.push_str(&format!(" (killed by {by}: “{why}”)")),
        (false, true) => sentence.push_str(&format!(" (killed by {by})")),
        (true, false) => sentence.push_str(&format!(" (killed because “{why}”)")),
        (true, true) => {}
    }
    if !note.is_empty() {
        sentence.push_str(&format!(", noting “{note}”"));
    }
    vec![Line::note("Kill", sentence)]
}

/// Archived: no longer served; revived: served again, switched off everywhere.
pub fn archived(before: Option<&Value>, after: Option<&Value>) -> Vec<Line> {
    let archived = |v: Option<&Value>| v.and_then(|v| v.get("archived")).and_then(Value::as_bool);
    match (archived(before), archived(after)) {
        (Some(false) | None, Some(true)) => vec![Line {
            sentence: "Archived: no longer served to SDKs".into(),
            ..Line::changed("State", "live".into(), "archived".into())
        }],
        (Some(true), Some(false)) => vec![Line {
            sentence: "Revived: served to SDKs again, switched off everywhere".into(),
            ..Line::changed("State", "archived".into(), "live".into())
        }],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn said(lines: Vec<Line>) -> Vec<String> {
        lines.into_iter().map(|l| l.sentence).collect()
    }

    #[test]
    fn switches_kills_and_archiving_read_as_sentences() {
        let on = json!({"enabled": true});
        let off = json!({"enabled": false});
        assert_eq!(said(enabled(Some(&off), Some(&on))), ["Switched off → on"]);
        assert_eq!(said(enabled(Some(&on), Some(&off))), ["Switched on → off"]);
        assert!(enabled(Some(&on), Some(&on)).is_empty());
        assert_eq!(
            said(killed(Some(&on))),
            ["Killed in an emergency: switched on → off, without review"]
        );
        let ack = json!({"kill": 3, "killedBy": "ann@example.com"});
        assert_eq!(
            said(kill_acknowledged(Some(&ack))),
            ["Emergency kill acknowledged (killed by ann@example.com)"]
        );
        let noted = json!({
            "kill": 3,
            "killedBy": "ann@example.com",
            "killReason": "checkout errors",
            "note": "rolled back release 41",
        });
        assert_eq!(
            said(kill_acknowledged(Some(&noted))),
            ["Emergency kill acknowledged (killed by ann@example.com: “checkout errors”), noting “rolled back release 41”"]
        );
        let (live, gone) = (json!({"archived": false}), json!({"archived": true}));
        assert_eq!(
            said(archived(Some(&live), Some(&gone))),
            ["Archived: no longer served to SDKs"]
        );
        assert_eq!(
            said(archived(Some(&gone), Some(&live))),
            ["Revived: served to SDKs again, switched off everywhere"]
        );
    }
}
