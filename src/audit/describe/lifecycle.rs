//! Lifecycle marks in words: completed (with the outcome), reopened, snoozed, the expected
//! lifetime, turning stale and recovering.

use super::words::{self, text};
use super::Line;
use crate::audit::Action;
use serde_json::Value;

fn lifetime(v: Option<&Value>) -> String {
    let Some(v) = v else {
        return "the type's default".into();
    };
    if v.get("permanent").and_then(Value::as_bool) == Some(true) {
        return "permanent".into();
    }
    match v.get("expectedLifetimeDays").and_then(Value::as_i64) {
        Some(d) => words::count(d as usize, "day", "days"),
        None => "the type's default".into(),
    }
}

pub fn mark(action: Action, before: Option<&Value>, after: Option<&Value>) -> Vec<Line> {
    let a = after.cloned().unwrap_or(Value::Null);
    let sentence = match action {
        Action::FlagCompleted => {
            let mut t = match text(&a, "outcome") {
                "kept" => "Marked completed: the feature is kept".to_string(),
                "discarded" => "Marked completed: the feature is discarded".to_string(),
                other => format!("Marked completed ({other})"),
            };
            if !text(&a, "variant").is_empty() {
                t.push_str(&format!(", serving variant {}", text(&a, "variant")));
            }
            if !text(&a, "note").is_empty() {
                t.push_str(&format!(" — {}", words::cut(text(&a, "note"))));
            }
            t
        }
        Action::FlagReopened => {
            "Completion undone: the stage follows the environments again".into()
        }
        Action::FlagSnoozed => {
            let until = text(&a, "until");
            let until = until.get(..10).unwrap_or(until);
            let reason = text(&a, "reason");
            let reason = if reason.is_empty() {
                String::new()
            } else {
                format!(" — {}", words::cut(reason))
            };
            format!("Stale warnings snoozed until {until}{reason}")
        }
        Action::FlagUnsnoozed => "Snooze ended: stale warnings show again".into(),
        Action::FlagLifecycleSet => {
            let (b, n) = (lifetime(before), lifetime(after));
            return if b == n {
                Vec::new()
            } else {
                vec![Line::changed("Expected lifetime", b, n)]
            };
        }
        Action::FlagBecameStale => {
            let reasons: Vec<String> = words::items(after, "staleReasons")
                .iter()
                .map(|r| text(r, "message").to_string())
                .filter(|m| !m.is_empty())
                .collect();
            if reasons.is_empty() {
                "Became stale".into()
            } else {
                format!("Became stale: {}", reasons.join("; "))
            }
        }
        Action::FlagRecovered => "No longer stale".into(),
        _ => return Vec::new(),
    };
    vec![Line::note("Lifecycle", sentence)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn said(action: Action, before: Option<Value>, after: Option<Value>) -> Vec<String> {
        mark(action, before.as_ref(), after.as_ref())
            .into_iter()
            .map(|l| l.sentence)
            .collect()
    }

    #[test]
    fn lifecycle_marks_read_as_sentences() {
        let done = json!({"outcome": "kept", "variant": "blue", "note": "won the test"});
        assert_eq!(
            said(Action::FlagCompleted, None, Some(done)),
            ["Marked completed: the feature is kept, serving variant blue — won the test"]
        );
        let snooze = json!({"until": "2030-02-01T00:00:00.000Z", "reason": "waiting for Q3"});
        assert_eq!(
            said(Action::FlagSnoozed, None, Some(snooze)),
            ["Stale warnings snoozed until 2030-02-01 — waiting for Q3"]
        );
        let b = json!({"expectedLifetimeDays": 40, "permanent": false});
        let a = json!({"expectedLifetimeDays": null, "permanent": true});
        assert_eq!(
            said(Action::FlagLifecycleSet, Some(b), Some(a)),
            ["Expected lifetime 40 days → permanent"]
        );
        let stale =
            json!({"staleReasons": [{"code": "x", "message": "on everywhere for 30 days"}]});
        assert_eq!(
            said(Action::FlagBecameStale, None, Some(stale)),
            ["Became stale: on everywhere for 30 days"]
        );
    }
}
