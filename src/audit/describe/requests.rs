//! A change request's own bookkeeping in words, for the audit page: what happened to request #n.
//! The changes it applies are described where they are recorded, each in its own entry.

use super::words::{self, text};
use super::Line;
use crate::audit::Action;
use serde_json::Value;

pub fn bookkeeping(action: Action, before: Option<&Value>, after: Option<&Value>) -> Vec<Line> {
    let v = after.or(before).cloned().unwrap_or(Value::Null);
    let id = v.get("changeRequest").map(words::value).unwrap_or_default();
    let cr = format!("Change request #{id}");
    let sentence = match action {
        Action::ChangeRequestChangeAdded => {
            format!("Added to change request #{id}: {}", text(&v, "summary"))
        }
        Action::ChangeRequestSubmitted => {
            let n = v.get("changes").and_then(Value::as_u64).unwrap_or(0) as usize;
            format!(
                "{cr} submitted for review: “{}”, {}",
                text(&v, "title"),
                words::count(n, "change", "changes")
            )
        }
        Action::ChangeRequestApproved => {
            let (n, of) = (
                v.get("approvals").and_then(Value::as_i64).unwrap_or(0),
                v.get("requiredApprovals")
                    .and_then(Value::as_i64)
                    .unwrap_or(1),
            );
            format!("{cr} approved ({n} of {of} approvals)")
        }
        Action::ChangeRequestRejected => format!("{cr} rejected"),
        Action::ChangeRequestCancelled => format!("{cr} cancelled"),
        Action::ChangeRequestRefreshed => format!("{cr} refreshed on the live configuration"),
        Action::ChangeRequestFailed => format!("{cr} could not be applied"),
        Action::ChangeRequestScheduled => format!("{cr} scheduled for {}", text(&v, "at")),
        Action::ChangeRequestCommented => format!(
            "Comment on {}: {}",
            uncap_cr(&cr),
            words::cut(text(&v, "body"))
        ),
        Action::ChangeRequestEdited => {
            format!("{cr} edited; approvals given so far no longer count")
        }
        Action::ChangeRequestReviewDenied => {
            format!(
                "Not allowed to {} {}: {}",
                text(&v, "attempted"),
                uncap_cr(&cr),
                text(&v, "why")
            )
        }
        Action::ChangeRequestApplied => {
            let changes: Vec<String> = words::items(Some(&v), "changes")
                .iter()
                .map(words::value)
                .collect();
            format!("{cr} applied: {}", words::list(changes, "; "))
        }
        _ => return Vec::new(),
    };
    vec![Line::note(cr, sentence)]
}

fn uncap_cr(cr: &str) -> String {
    words::uncap(cr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bookkeeping_reads_as_sentences() {
        let said = |a: Action, v: Value| bookkeeping(a, None, Some(&v)).remove(0).sentence;
        assert_eq!(
            said(
                Action::ChangeRequestChangeAdded,
                json!({"changeRequest": 3, "change": "toggle", "summary": "switch checkout on", "state": {"enabled": true}})
            ),
            "Added to change request #3: switch checkout on"
        );
        assert_eq!(
            said(
                Action::ChangeRequestSubmitted,
                json!({"changeRequest": 3, "title": "Launch", "changes": 2})
            ),
            "Change request #3 submitted for review: “Launch”, 2 changes"
        );
        assert_eq!(
            said(
                Action::ChangeRequestApplied,
                json!({"changeRequest": 3, "changes": ["switch checkout on"]})
            ),
            "Change request #3 applied: switch checkout on"
        );
    }
}
