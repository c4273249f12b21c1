//! The home of a signed-in person: counts, the flags they own (overdue first) and recent
//! changes in their projects.

use super::audit::Row;
use super::{render, Layout, PageResult};
use crate::audit::store::{self as audit_store, Filter};
use crate::authz::Identity;
use crate::catalog::{flag::FlagType, store as catalog_store};
use crate::clock::parse_stamp;
use crate::http::extract::CurrentUser;
use crate::lifecycle::stale_reasons;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;
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
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    projects: usize,
    owned: Vec<OwnedRow>,
    overdue: usize,
    recent: Vec<Row>,
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
        None => crate::projects::store::summaries(&mut conn, None, true)
            .await?
            .len(),
    };
    let owned = owned_flags(&mut conn, &identity, app.now()).await?;
    let overdue = owned.iter().filter(|f| !f.stale.is_empty()).count();
    let entries = audit_store::list(&mut conn, &Filter::default(), &visible, 20, None).await?;
    let page = HomePage {
        layout: Layout::new(&session, Some(&identity), "Home", "home").await,
        projects,
        owned,
        overdue,
        recent: entries.into_iter().map(Row::from).collect(),
    };
    render(&page)
}

/// Overdue flags first (oldest first within each group, as the query orders them).
async fn owned_flags(
    conn: &mut SqliteConnection,
    identity: &Identity,
    now: DateTime<Utc>,
) -> Result<Vec<OwnedRow>, sqlx::Error> {
    let flags = catalog_store::flags_owned_by(conn, identity.user.id).await?;
    let mut rows: Vec<OwnedRow> = flags
        .into_iter()
        .map(|f| {
            let lifetime = if f.has_override {
                f.lifetime_override
            } else {
                FlagType::parse(&f.flag_type).and_then(FlagType::default_lifetime_days)
            };
            let stale = parse_stamp(&f.created_at)
                .map(|c| stale_reasons(c, lifetime, false, now))
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.message)
                .collect::<Vec<_>>()
                .join("; ");
            OwnedRow {
                href: super::href::flag(&f.project_key, &f.key),
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
