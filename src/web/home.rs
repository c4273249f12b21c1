//! The home of a signed-in person: counts, the flags they own that need cleanup (each linking
//! to its evidence), all the flags they own (overdue first) and recent changes in their projects.

use super::described::{self, EntryRow};
use super::{render, Layout, PageResult};
use crate::audit::store::{self as audit_store, Filter};
use crate::authz::Identity;
use crate::catalog::store as catalog_store;
use crate::db::Conn;
use crate::http::extract::CurrentUser;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(home))
}

/// One row of "Flags I own".
struct OwnedRow {
    project: String,
    key: String,
    href: String,
    name: String,
    flag_type: String,
    owner: String,
    /// The stale reason shown on hover; empty when the flag is not overdue.
    stale: String,
    /// The reasons' short labels (badges of "needs cleanup").
    reasons: Vec<&'static str>,
    /// The flag's Lifecycle tab, where the evidence is.
    evidence: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    projects: usize,
    owned: Vec<OwnedRow>,
    overdue: usize,
    recent: Vec<EntryRow>,
}

async fn home(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(identity): CurrentUser,
) -> PageResult {
    let mut conn = app.db.acquire().await?;
    let visible = super::audit::visibility(&mut conn, &identity).await?;
    let projects = match &visible {
        Some(keys) => keys.len(),
        None => crate::projects::store::summaries(&mut conn).await?.len(),
    };
    let owned = owned_flags(&mut conn, &identity).await?;
    let overdue = owned.iter().filter(|f| !f.stale.is_empty()).count();
    let entries = audit_store::list(&mut conn, &Filter::default(), &visible, 20, None).await?;
    let recent = described::rows(&mut conn, entries).await?;
    let page = HomePage {
        layout: Layout::new(&session, Some(&identity), "Home", "home").await,
        projects,
        owned,
        overdue,
        recent,
    };
    render(&page)
}

/// Stale flags first (oldest first within each group, as the query orders them), with the
/// reasons the last assessment found.
async fn owned_flags(conn: &mut Conn, identity: &Identity) -> Result<Vec<OwnedRow>, sqlx::Error> {
    let flags = catalog_store::flags_owned_by(&mut *conn, identity.user.id).await?;
    let ids: Vec<i64> = flags.iter().map(|f| f.id).collect();
    let mut reasons = crate::lifecycle::store::stale_reasons_of(&mut *conn, &ids).await?;
    let mut rows: Vec<OwnedRow> = flags
        .into_iter()
        .map(|f| {
            let found = reasons
                .remove(&f.id)
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
            let stale = found
                .iter()
                .filter_map(|r| r.get("message").and_then(serde_json::Value::as_str))
                .collect::<Vec<_>>()
                .join("; ");
            let labels = found
                .iter()
                .filter_map(|r| r.get("code").and_then(serde_json::Value::as_str))
                .filter_map(crate::lifecycle::stale::Code::parse)
                .map(crate::lifecycle::stale::Code::label)
                .collect();
            let href = super::href::flag(&f.project_key, &f.key);
            OwnedRow {
                evidence: format!("{href}?tab=lifecycle"),
                reasons: labels,
                href,
                project: f.project_key,
                key: f.key,
                name: f.name,
                flag_type: f.flag_type,
                owner: f.owner.unwrap_or_default(),
                stale,
            }
        })
        .collect();
    rows.sort_by_key(|r| r.stale.is_empty());
    Ok(rows)
}
