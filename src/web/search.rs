//! Finding anything from anywhere (issue 9): `/search/suggest` answers the command palette
//! (`static/app.js`, opened with `/` on every signed-in page) with JSON; `/search` is the same
//! search as a page, for the palette's Enter without a choice and for browsers without scripts.

use crate::authz::Reach;
use crate::http::extract::CurrentUser;
use crate::search::{self, store, Hit, Kind};
use crate::state::AppState;
use crate::web::href;
use crate::web::{render, Layout, PageResult};
use askama::Template;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/search", get(search_page))
        .route("/search/suggest", get(suggest))
}

/// The palette lists this many; the page more.
const SUGGESTIONS: i64 = 12;
const PAGE_HITS: i64 = 50;

#[derive(Deserialize, Default)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// A hit as the palette and the page show it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Found {
    kind: Kind,
    kind_label: &'static str,
    title: String,
    detail: String,
    href: String,
}

impl From<Hit> for Found {
    fn from(h: Hit) -> Found {
        let (title, href, mut detail) = match h.kind {
            Kind::Project => (h.key.clone(), href::project(&h.key, ""), h.name.clone()),
            Kind::Flag => (
                h.key.clone(),
                href::flag(&h.project, &h.key),
                format!("{} · {}", h.project, h.name),
            ),
            Kind::ChangeRequest => {
                let title = if h.name.is_empty() {
                    h.key.clone()
                } else {
                    format!("{} {}", h.key, h.name)
                };
                (title, href::change_request(h.id), h.project.clone())
            }
        };
        if !h.note.is_empty() {
            detail = format!("{detail} · {}", h.note);
        }
        Found {
            kind: h.kind,
            kind_label: h.kind.label(),
            title,
            detail,
            href,
        }
    }
}

async fn find(
    app: &AppState,
    who: &CurrentUser,
    typed: &str,
    limit: i64,
) -> PageResult<Vec<Found>> {
    let Some(expression) = search::match_expression(typed) else {
        return Ok(Vec::new());
    };
    let mut conn = app.db.acquire().await?;
    let reach = Reach::of(&mut conn, &who.0).await?;
    let hits = store::find(&mut conn, &expression, &reach.ids(), limit).await?;
    Ok(hits.into_iter().map(Found::from).collect())
}

async fn suggest(
    State(app): State<AppState>,
    who: CurrentUser,
    Query(q): Query<SearchQuery>,
) -> PageResult<Json<Vec<Found>>> {
    Ok(Json(find(&app, &who, &q.q, SUGGESTIONS).await?))
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    layout: Layout,
    q: String,
    found: Vec<Found>,
}

async fn search_page(
    State(app): State<AppState>,
    session: Session,
    who: CurrentUser,
    Query(q): Query<SearchQuery>,
) -> PageResult {
    let found = find(&app, &who, &q.q, PAGE_HITS).await?;
    let layout = Layout::new(&session, Some(&who.0), "Search", "").await;
    render(&SearchPage {
        layout,
        q: q.q.trim().to_string(),
        found,
    })
}
