//! `/change-requests`: waiting for my approval, my open requests, all open requests in my
//! projects; and the emergency kills that still need an approver's acknowledgement.

use super::closed::{self, ClosedFilter, ClosedParams, CLOSED_STATES};
use super::rows::{principal, rows, Row};
use crate::authz::Identity;
use crate::authz::{allows, Action, Principal};
use crate::changes::service::{self, ChangeRequestSummary, KillView, ListQuery};
use crate::changes::{store, State as CrState};
use crate::db::Conn;
use crate::db::Db;
use crate::error::AppResult;
use crate::http::extract::CurrentUser;
use crate::projects::store as projects;
use crate::state::AppState;
use crate::web::href::flag as flag_href;
use crate::web::text::short_time;
use crate::web::{render, Layout, PageResult};
use askama::Template;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;
use tower_sessions::Session;

tokio::task_local! {
    /// The navigation's count of requests waiting for the signed-in person.
    static PENDING: i64;
}

/// Counts the requests waiting for the signed-in person before the page's handler runs, so that
/// [`Layout::new`] reads a number instead of querying. A handler holds its own connection while
/// it renders; if the layout took a second one then, as many concurrent pages as the pool has
/// connections would each wait for another that no one gives back (every page stalled for the
/// pool's acquire timeout). htmx partials have no navigation and skip the count.
pub async fn with_db(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let pending = if parts.headers.contains_key("hx-request") {
        0
    } else {
        // The identity is kept in the request, so the handler's extractor does not load it again;
        // a refusal here is the handler's to give.
        match CurrentUser::from_request_parts(&mut parts, &app).await {
            Ok(CurrentUser(who)) => count_waiting(&app.db, &who).await,
            Err(_) => 0,
        }
    };
    PENDING
        .scope(pending, next.run(Request::from_parts(parts, body)))
        .await
}

async fn count_waiting(db: &Db, who: &Identity) -> i64 {
    match waiting_for(db, who).await {
        Ok(list) => i64::try_from(list.len()).unwrap_or(i64::MAX),
        Err(e) => {
            tracing::warn!(error = %e, "could not count the change requests waiting for review");
            0
        }
    }
}

/// How many requests wait for this person's approval, as counted when the request came in (0
/// outside a page request).
pub fn pending_reviews() -> i64 {
    PENDING.try_with(|n| *n).unwrap_or(0)
}

/// Requests in review that this person may approve: in a project where they may review, by
/// somebody else, not yet approved by them.
pub async fn waiting_for(db: &Db, who: &Identity) -> AppResult<Vec<ChangeRequestSummary>> {
    let q = ListQuery {
        state: Some(CrState::InReview),
        ..ListQuery::default()
    };
    let list = service::list(db, who, &q).await?;
    if list.is_empty() {
        return Ok(list);
    }
    let mut conn = db.acquire().await?;
    let mut reviewer_in: Vec<(String, bool)> = Vec::new();
    let mut out = Vec::new();
    for r in list {
        if r.author_id == who.user.id {
            continue;
        }
        let may = match reviewer_in.iter().find(|(k, _)| *k == r.project) {
            Some((_, may)) => *may,
            None => {
                let may = match projects::project_by_key(&mut conn, &r.project).await? {
                    Some(p) => service::may_review(principal(&mut conn, who, p.id).await?),
                    None => false,
                };
                reviewer_in.push((r.project.clone(), may));
                may
            }
        };
        if !may {
            continue;
        }
        let approvals = store::approvals_of(&mut conn, r.id).await?;
        if approvals.iter().all(|a| a.user_id != who.user.id) {
            out.push(r);
        }
    }
    Ok(out)
}

/// An emergency kill not yet acknowledged.
struct KillRow {
    id: i64,
    project: String,
    flag: String,
    flag_href: String,
    environment: String,
    reason: String,
    killed_by: String,
    killed_at: String,
    ack_href: String,
    /// Why there is no button ("" when there is one).
    cannot: &'static str,
}

#[derive(Template)]
#[template(path = "changes/list.html")]
struct InboxPage {
    layout: Layout,
    tab: &'static str,
    rows: Vec<Row>,
    waiting: usize,
    mine: usize,
    open: usize,
    kills: Vec<KillRow>,
    /// The Closed tab's filters (only on that tab).
    closed: Option<ClosedFilter>,
    closed_states: [(&'static str, &'static str); 3],
}

#[derive(Deserialize, Default)]
pub(super) struct InboxQuery {
    #[serde(default)]
    tab: Option<String>,
    #[serde(flatten)]
    closed: ClosedParams,
}

pub(super) async fn inbox(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(who): CurrentUser,
    Query(q): Query<InboxQuery>,
) -> PageResult {
    let waiting = waiting_for(&app.db, &who).await?;
    let open: Vec<_> = service::list(&app.db, &who, &ListQuery::default())
        .await?
        .into_iter()
        .filter(|r| !r.state.is_final())
        .collect();
    let mine: Vec<_> = open
        .iter()
        .filter(|r| r.author_id == who.user.id)
        .cloned()
        .collect();
    let (waiting_n, mine_n, open_n) = (waiting.len(), mine.len(), open.len());
    let mut closed = None;
    let (tab, list) = match q.tab.as_deref() {
        Some("mine") => ("mine", mine),
        Some("open") => ("open", open),
        Some("closed") => {
            let (list, filter) = closed_tab(&app, &who, &q.closed).await?;
            closed = Some(filter);
            ("closed", list)
        }
        _ => ("waiting", waiting),
    };
    let mut conn = app.db.acquire().await?;
    let kills = open_kills(&mut conn, &who).await?;
    let page = InboxPage {
        layout: Layout::new(&session, Some(&who), "Change requests", "changes").await,
        tab,
        rows: rows(&mut conn, &who, list, app.now()).await?,
        waiting: waiting_n,
        mine: mine_n,
        open: open_n,
        kills,
        closed,
        closed_states: CLOSED_STATES,
    };
    render(&page)
}

/// The finished requests the filters ask for, and the filter form to show again.
async fn closed_tab(
    app: &AppState,
    who: &Identity,
    p: &ClosedParams,
) -> AppResult<(Vec<ChangeRequestSummary>, ClosedFilter)> {
    let (q, errors) = closed::query(p);
    let list = service::list(&app.db, who, &q).await?;
    let mut conn = app.db.acquire().await?;
    let projects = crate::authz::Reach::of(&mut conn, who)
        .await?
        .projects()
        .iter()
        .map(|p| p.key.clone())
        .collect();
    drop(conn);
    let filter = ClosedFilter {
        state: p.state.clone(),
        project: p.project.clone(),
        author: p.author.clone(),
        since: p.since.clone(),
        projects,
        authors: service::closed_authors(&app.db, who).await?,
        errors,
    };
    Ok((list, filter))
}

async fn open_kills(conn: &mut Conn, who: &Identity) -> AppResult<Vec<KillRow>> {
    let mut out = Vec::new();
    for p in crate::authz::Reach::of(&mut *conn, who).await?.projects() {
        let kills = service::kills(&mut *conn, p, true).await?;
        if kills.is_empty() {
            continue;
        }
        let me = principal(&mut *conn, who, p.id).await?;
        for k in kills {
            out.push(kill_row(&p.key, me, who, k));
        }
    }
    Ok(out)
}

fn kill_row(project: &str, me: Principal, who: &Identity, k: KillView) -> KillRow {
    let own = k.killed_by_id == Some(who.user.id);
    let cannot = match allows(me, Action::AcknowledgeKill { own }) {
        Ok(()) => "",
        Err(_) if own => "somebody else acknowledges your kill",
        Err(_) => "an approver or owner acknowledges it",
    };
    KillRow {
        id: k.id,
        flag_href: flag_href(project, &k.flag),
        ack_href: format!("/projects/{project}/kills/{}/acknowledge", k.id),
        project: project.to_string(),
        flag: k.flag,
        environment: k.environment,
        reason: k.reason,
        killed_by: k.killed_by,
        killed_at: short_time(&k.killed_at),
        cannot,
    }
}
