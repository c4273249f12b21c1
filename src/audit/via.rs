//! Which entries a change request applied: the `change-request.applied` entry names them
//! (`entries`, the sequence numbers written while applying), with the request's number, title,
//! reason, author and approvers, so a flag's history can say "via change request #n" from the
//! log alone, as it was when applied.

use super::store::{self, Entry};
use crate::db::Conn;
use serde_json::Value;
use std::collections::HashMap;

/// The change request an entry was applied through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    pub change_request: i64,
    pub title: String,
    pub reason: String,
    pub author: String,
    pub approvers: Vec<String>,
    pub applied_by: String,
}

/// The entries an applied entry covers, with the request they came through; None for any other
/// entry, or one written before applied entries named what they covered.
pub fn covered(applied: &Entry) -> Option<(Vec<i64>, Via)> {
    let after: Value = serde_json::from_str(applied.after_json.as_deref()?).ok()?;
    let seqs: Vec<i64> = after
        .get("entries")?
        .as_array()?
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    let text = |f: &str| {
        after
            .get(f)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let via = Via {
        change_request: after.get("changeRequest")?.as_i64()?,
        title: text("title"),
        reason: text("reason"),
        author: text("author"),
        approvers: after
            .get("approvers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        applied_by: applied.actor_label.clone(),
    };
    Some((seqs, via))
}

/// For each of `entries` applied through a change request, the request, by sequence number.
pub async fn of(conn: &mut Conn, entries: &[Entry]) -> Result<HashMap<i64, Via>, sqlx::Error> {
    let mut ats: Vec<&str> = entries
        .iter()
        .filter(|e| !e.action.starts_with("change-request."))
        .map(|e| e.at.as_str())
        .collect();
    ats.sort_unstable();
    ats.dedup();
    let mut out = HashMap::new();
    for applied in store::applied_at(conn, &ats).await? {
        if let Some((seqs, via)) = covered(&applied) {
            for seq in seqs {
                out.insert(seq, via.clone());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_applied_entry_names_the_entries_it_covers() {
        let applied = Entry {
            seq: 12,
            at: "2030-01-01T00:00:00.000Z".into(),
            actor_kind: "user".into(),
            actor_id: Some(3),
            actor_label: "dan@example.com".into(),
            action: "change-request.applied".into(),
            project_key: Some("web".into()),
            flag_key: None,
            environment_key: Some("production".into()),
            target: "change request #4".into(),
            before_json: None,
            after_json: Some(
                r#"{"changeRequest":4,"title":"Launch","reason":"Go live","author":"ann@example.com","approvers":["bob@example.com","cy@example.com"],"changes":[],"entries":[10,11]}"#.into(),
            ),
            reason: None,
            request_id: None,
            hash: String::new(),
        };
        let (seqs, via) = covered(&applied).unwrap();
        assert_eq!(seqs, [10, 11]);
        assert_eq!(via.change_request, 4);
        assert_eq!(via.approvers, ["bob@example.com", "cy@example.com"]);
        assert_eq!(via.applied_by, "dan@example.com");
        assert_eq!(via.reason, "Go live");
    }
}
