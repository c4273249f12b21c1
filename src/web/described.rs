//! Audit entries as pages show them: in words (`audit::describe`), with the change request each
//! came through. One view for the audit page, the home feed and a flag's history, rendered by
//! the `change` and `via` macros of macros.html.

use super::href;
use super::text::short_time;
use crate::audit::describe::{self, Line, Names};
use crate::audit::store::Entry;
use crate::audit::via::{self, Via};
use crate::audit::Action;
use crate::db::Conn;
use serde_json::Value;

/// "via change request #n — proposed by A, approved by B, C, applied by D".
pub struct ViaView {
    pub id: i64,
    pub href: String,
    pub title: String,
    pub reason: String,
    pub author: String,
    pub approvers: String,
    pub applied_by: String,
}

impl From<Via> for ViaView {
    fn from(v: Via) -> Self {
        ViaView {
            id: v.change_request,
            href: href::change_request(v.change_request),
            title: v.title,
            reason: v.reason,
            author: v.author,
            approvers: if v.approvers.is_empty() {
                "nobody".into()
            } else {
                v.approvers.join(", ")
            },
            applied_by: v.applied_by,
        }
    }
}

/// One entry as a row: who, when, what, and the change in words.
pub struct EntryRow {
    pub seq: i64,
    pub at: String,
    pub at_short: String,
    pub actor: String,
    pub actor_kind: String,
    pub action: String,
    pub project: String,
    pub environment: String,
    /// Where the target is shown: the change request of its bookkeeping, or the flag.
    pub target_href: String,
    pub target: String,
    pub reason: String,
    pub lines: Vec<Line>,
    pub via: Option<ViaView>,
    /// The stored before/after, for auditors who open the disclosure ("" when there is none).
    pub raw: String,
}

fn parse(json: Option<&str>) -> Option<Value> {
    json.and_then(|j| serde_json::from_str(j).ok())
}

fn row(e: Entry, names: &Names, via: Option<Via>) -> EntryRow {
    let (before, after) = (
        parse(e.before_json.as_deref()),
        parse(e.after_json.as_deref()),
    );
    let lines = match Action::parse(&e.action) {
        Some(action) => describe::entry(action, before.as_ref(), after.as_ref(), names),
        None => describe::unknown(before.as_ref(), after.as_ref()),
    };
    let raw = [("before", &e.before_json), ("after", &e.after_json)]
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| format!("{k}: {v}")))
        .collect::<Vec<_>>()
        .join("\n");
    let project = e.project_key.unwrap_or_default();
    let flag = e.flag_key.unwrap_or_default();
    let request = [&after, &before]
        .iter()
        .find_map(|v| v.as_ref()?.get("changeRequest")?.as_i64())
        .filter(|_| e.action.starts_with("change-request."));
    EntryRow {
        seq: e.seq,
        at_short: short_time(&e.at),
        at: e.at,
        actor: e.actor_label,
        actor_kind: e.actor_kind,
        action: e.action,
        target_href: match request {
            Some(id) => href::change_request(id),
            _ if flag.is_empty() || project.is_empty() => String::new(),
            _ => href::flag(&project, &flag),
        },
        project,
        environment: e.environment_key.unwrap_or_default(),
        target: e.target,
        reason: e.reason.unwrap_or_default(),
        lines,
        via: via.map(ViaView::from),
        raw,
    }
}

/// The segment names of the projects the entries belong to.
async fn names(conn: &mut Conn, entries: &[Entry]) -> Result<Names, sqlx::Error> {
    let mut keys: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.project_key.as_deref())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut segments = Vec::new();
    for key in keys {
        if let Some(p) = crate::projects::store::project_by_key(&mut *conn, key).await? {
            segments.extend(crate::targeting::store::segment_names_of(&mut *conn, p.id).await?);
        }
    }
    Ok(Names::with_segments(segments))
}

/// The entries as rows, in words, each naming the change request it was applied through.
pub async fn rows(conn: &mut Conn, entries: Vec<Entry>) -> Result<Vec<EntryRow>, sqlx::Error> {
    let names = names(&mut *conn, &entries).await?;
    let mut vias = via::of(&mut *conn, &entries).await?;
    Ok(entries
        .into_iter()
        .map(|e| {
            let via = vias.remove(&e.seq);
            row(e, &names, via)
        })
        .collect())
}
