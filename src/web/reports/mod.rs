//! The cleanup report pages: `/reports` lists the kept weekly reports (newest first, filtered by
//! project), `/reports/{id}` shows one, `/reports/stale` the report computed now; each also
//! downloads as `.md`, `.csv` or `.json` (`/reports/3.csv`, `/reports/stale.md?project=web`).
//! Only the projects the caller sees; any other report answers as a missing one.

pub mod view;

use super::{render, Layout, PageError, PageResult};
use crate::authz::Reach;
use crate::error::AppError;
use crate::http::extract::CurrentUser;
use crate::lifecycle::report::render::Format;
use crate::lifecycle::report::{self, kept, StaleReport};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use tower_sessions::Session;
use view::ReportView;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/reports", get(list_reports))
        .route("/reports/{name}", get(show_report))
}

#[derive(Deserialize, Default)]
struct ReportsQuery {
    #[serde(default)]
    project: String,
}

impl ReportsQuery {
    fn project(&self) -> Option<&str> {
        Some(self.project.trim()).filter(|p| !p.is_empty())
    }

    /// `?project=K`, or nothing.
    fn suffix(&self) -> String {
        self.project()
            .map(|p| {
                format!(
                    "?{}",
                    serde_urlencoded::to_string([("project", p)]).unwrap_or_default()
                )
            })
            .unwrap_or_default()
    }
}

struct KeptRow {
    href: String,
    project: String,
    week: String,
    generated: String,
    flags: i64,
    stale: i64,
    health: String,
}

#[derive(Template)]
#[template(path = "reports/list.html")]
struct ListPage {
    layout: Layout,
    projects: Vec<String>,
    chosen: String,
    rows: Vec<KeptRow>,
    schedule: String,
    now_href: String,
}

async fn list_reports(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(identity): CurrentUser,
    Query(q): Query<ReportsQuery>,
) -> PageResult {
    let reach = {
        let mut conn = app.db.acquire().await?;
        Reach::of(&mut conn, &identity).await?
    };
    let ids: Vec<i64> = report::scope(&reach, q.project())?
        .iter()
        .map(|p| p.id)
        .collect();
    let rows = kept::list(&app.db, Some(&ids), 500)
        .await?
        .into_iter()
        .map(|k| KeptRow {
            href: format!("/reports/{}", k.id),
            project: k.project,
            week: k.week,
            generated: crate::lifecycle::report::render::when(&k.generated_at),
            flags: k.flags,
            stale: k.stale,
            health: k.health_percent.map_or("—".into(), |h| format!("{h} %")),
        })
        .collect();
    let page = ListPage {
        layout: Layout::new(&session, Some(&identity), "Cleanup reports", "reports").await,
        projects: reach.keys(),
        chosen: q.project.trim().to_string(),
        rows,
        schedule: app.settings.report_schedule.to_string(),
        now_href: format!("/reports/stale{}", q.suffix()),
    };
    render(&page)
}

/// Which report a path names, and the download asked for, if any.
enum Which {
    Now,
    Kept(i64),
}

fn parse_name(name: &str) -> Option<(Which, Option<Format>)> {
    let (stem, format) = match name.rsplit_once('.') {
        Some((stem, ext)) => (stem, Some(Format::parse(ext)?)),
        None => (name, None),
    };
    let which = match stem {
        "stale" => Which::Now,
        id => Which::Kept(id.parse().ok().filter(|n| *n > 0)?),
    };
    Some((which, format))
}

#[derive(Template)]
#[template(path = "reports/show.html")]
struct ShowPage {
    layout: Layout,
    reports: Vec<ReportView>,
    kept: Option<i64>,
    projects: Vec<String>,
    chosen: String,
}

async fn show_report(
    State(app): State<AppState>,
    session: Session,
    CurrentUser(identity): CurrentUser,
    Path(name): Path<String>,
    Query(q): Query<ReportsQuery>,
) -> PageResult {
    let missing = || PageError(AppError::not_found(format!("there is no report {name:?}")));
    let (which, format) = parse_name(&name).ok_or_else(missing)?;
    let reach = {
        let mut conn = app.db.acquire().await?;
        Reach::of(&mut conn, &identity).await?
    };
    let (reports, kept_id, base, query) = match which {
        Which::Now => {
            let projects = report::scope(&reach, q.project())?;
            let reports = report::current_all(&app.db, &projects, app.now()).await?;
            (reports, None, "/reports/stale".to_string(), q.suffix())
        }
        Which::Kept(id) => {
            let visible = reach.ids();
            let (_, r) = kept::get(&app.db, id, |p| visible.contains(&p)).await?;
            (vec![r], Some(id), format!("/reports/{id}"), String::new())
        }
    };
    if let Some(format) = format {
        return Ok(download(
            &reports,
            format,
            q.project().is_some() || kept_id.is_some(),
        ));
    }
    let title = match (kept_id, reports.first()) {
        (Some(_), Some(r)) => format!("Cleanup report {} · {}", r.project.key, r.week),
        _ => "Cleanup report now".to_string(),
    };
    let page = ShowPage {
        layout: Layout::new(&session, Some(&identity), title, "reports").await,
        reports: reports
            .iter()
            .map(|r| ReportView::of(r, &base, &query))
            .collect(),
        kept: kept_id,
        projects: reach.keys(),
        chosen: q.project.trim().to_string(),
    };
    render(&page)
}

fn download(reports: &[StaleReport], format: Format, one: bool) -> axum::response::Response {
    let name = match reports {
        [r] => format!("switchyard-report-{}-{}", r.project.key, r.week),
        _ => "switchyard-report".to_string(),
    };
    let disposition = format!("attachment; filename=\"{name}.{}\"", format.extension());
    let body = crate::lifecycle::report::render::render(reports, format, one);
    (
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response()
}
