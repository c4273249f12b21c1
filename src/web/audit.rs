//! The audit log: newest first, filtered by the query string, 50 a page, each change in words
//! (with a raw disclosure for auditors), and a CSV export of the same selection. Non-admins see the entries of their own projects.

use super::described::{self, EntryRow};
use super::{render, Layout, PageResult};
use crate::audit::store::{self as audit_store, Entry, Filter, Visibility};
use crate::authz::Identity;
use crate::db::Conn;
use crate::http::extract::CurrentUser;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use axum_htmx::{HxHistoryRestoreRequest, HxRequest};
use serde::Deserialize;
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/audit", get(audit_page))
        .route("/audit.csv", get(audit_csv))
}

const PAGE_SIZE: i64 = 50;
const CSV_LIMIT: i64 = 10_000;

/// Admins read everything; everyone else the entries of the projects they are members of.
pub async fn visibility(conn: &mut Conn, identity: &Identity) -> Result<Visibility, sqlx::Error> {
    Ok(crate::authz::Reach::of(conn, identity).await?.key_filter())
}

/// The query string of the page: the filters and where a page starts.
#[derive(Deserialize, Default, Clone, serde::Serialize)]
struct AuditQuery {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    project: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    flag: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    actor: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    action: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    since: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    until: String,
    #[serde(default, skip_serializing)]
    before: String,
}

impl AuditQuery {
    fn filter(&self) -> Filter {
        let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        Filter {
            project: opt(&self.project),
            flag: opt(&self.flag),
            actor: opt(&self.actor).map(|a| a.to_lowercase()),
            action: opt(&self.action),
            since: opt(&self.since),
            until: opt(&self.until),
            hide_change_requests: false,
        }
    }

    fn before(&self) -> Option<i64> {
        self.before.trim().parse().ok()
    }

    /// `path?filters[&before=seq]`.
    fn href(&self, path: &str, before: Option<i64>) -> String {
        let mut q = serde_urlencoded::to_string(self).unwrap_or_default();
        if let Some(b) = before {
            q.push_str(&format!(
                "{}before={b}",
                if q.is_empty() { "" } else { "&" }
            ));
        }
        if q.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{q}")
        }
    }
}

#[derive(Template)]
#[template(path = "audit/list.html")]
struct AuditPage {
    layout: Layout,
    is_admin: bool,
    q: AuditQuery,
    projects: Vec<String>,
    actions: Vec<String>,
    results: Results,
}

#[derive(Template)]
#[template(path = "audit/_results.html")]
struct Results {
    rows: Vec<EntryRow>,
    older: String,
    newest: String,
    csv: String,
    filtered: bool,
}

async fn audit_page(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(identity): CurrentUser,
    HxRequest(htmx): HxRequest,
    HxHistoryRestoreRequest(restore): HxHistoryRestoreRequest,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    let mut conn = app.db.acquire().await?;
    let visible = visibility(&mut conn, &identity).await?;
    let entries =
        audit_store::list(&mut conn, &q.filter(), &visible, PAGE_SIZE, q.before()).await?;
    let older = match entries.last() {
        Some(last) if entries.len() as i64 == PAGE_SIZE => q.href("/audit", Some(last.seq)),
        _ => String::new(),
    };
    let results = Results {
        rows: described::rows(&mut conn, entries).await?,
        older,
        newest: q
            .before()
            .map(|_| q.href("/audit", None))
            .unwrap_or_default(),
        csv: q.href("/audit.csv", None),
        filtered: !q.href("", None).is_empty(),
    };
    if htmx && !restore {
        return render(&results);
    }
    let projects = match visible {
        Some(keys) => keys,
        None => crate::projects::store::summaries(&mut conn)
            .await?
            .into_iter()
            .map(|p| p.key)
            .collect(),
    };
    let page = AuditPage {
        layout: Layout::new(&session, Some(&identity), "Audit log", "audit").await,
        is_admin: identity.user.is_admin,
        actions: audit_store::actions(&mut conn).await?,
        projects,
        q,
        results,
    };
    render(&page)
}

async fn audit_csv(
    State(app): State<AppState>,
    CurrentUser(identity): CurrentUser,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    let mut conn = app.db.acquire().await?;
    let visible = visibility(&mut conn, &identity).await?;
    let entries =
        audit_store::list(&mut conn, &q.filter(), &visible, CSV_LIMIT, q.before()).await?;
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
        (
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"switchyard-audit.csv\"",
        ),
    ];
    Ok((headers, to_csv(&entries)).into_response())
}

const CSV_HEADER: &str =
    "seq,at,actor,actor_kind,action,project,flag,environment,target,reason,before,after,hash";

fn to_csv(entries: &[Entry]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push_str("\r\n");
    for e in entries {
        let cells = [
            e.at.as_str(),
            &e.actor_label,
            &e.actor_kind,
            &e.action,
            e.project_key.as_deref().unwrap_or(""),
            e.flag_key.as_deref().unwrap_or(""),
            e.environment_key.as_deref().unwrap_or(""),
            &e.target,
            e.reason.as_deref().unwrap_or(""),
            e.before_json.as_deref().unwrap_or(""),
            e.after_json.as_deref().unwrap_or(""),
            &e.hash,
        ];
        out.push_str(&e.seq.to_string());
        for c in cells {
            out.push(',');
            out.push_str(&csv_cell(c));
        }
        out.push_str("\r\n");
    }
    out
}

/// Quoted, with quotes doubled; a leading `= + - @` (or tab, CR) gets a `'` so spreadsheets
/// show the text instead of running it as a formula (OWASP CSV injection).
fn csv_cell(s: &str) -> String {
    let guarded = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("plain"), "\"plain\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=1+1"), "\"'=1+1\"");
        assert_eq!(csv_cell("-2"), "\"'-2\"");
        assert_eq!(csv_cell("@SUM(A1)"), "\"'@SUM(A1)\"");
    }
}
