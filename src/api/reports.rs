//! The cleanup reports over the API: the one computed now, and the kept weekly ones. Only the
//! projects the token's user sees; another project's report answers 404 as a missing one.

use super::ApiError;
use crate::authz::Reach;
use crate::error::AppError;
use crate::http::extract::AdminToken;
use crate::lifecycle::report::{self, kept, render};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/reports", get(list_reports))
        .route("/api/admin/reports/stale", get(current_report))
        .route("/api/admin/reports/{id}", get(kept_report))
}

#[derive(Deserialize, Default)]
struct ReportQuery {
    #[serde(default)]
    project: Option<String>,
    /// json (default), markdown or csv.
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

fn format_of(q: &ReportQuery) -> Result<render::Format, ApiError> {
    match q.format.as_deref() {
        None | Some("") => Ok(render::Format::Json),
        Some(f) => render::Format::parse(f)
            .ok_or_else(|| ApiError(AppError::invalid("format", "choose json, markdown or csv"))),
    }
}

fn answer(reports: &[report::StaleReport], format: render::Format, one: bool) -> Response {
    let body = render::render(reports, format, one);
    ([(header::CONTENT_TYPE, format.content_type())], body).into_response()
}

/// `{"report": ...}` for `?project=`, else `{"reports": [...]}` for every visible project.
async fn current_report(
    State(app): State<AppState>,
    AdminToken(id): AdminToken,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let format = format_of(&q)?;
    let reach = {
        let mut conn = app.db.acquire().await?;
        Reach::of(&mut conn, &id).await?
    };
    let projects = report::scope(&reach, q.project.as_deref())?;
    let reports = report::current_all(&app.db, &projects, app.now()).await?;
    let one = q.project.as_deref().is_some_and(|p| !p.trim().is_empty());
    Ok(answer(&reports, format, one))
}

async fn list_reports(
    State(app): State<AppState>,
    AdminToken(id): AdminToken,
    Query(q): Query<ReportQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let reach = {
        let mut conn = app.db.acquire().await?;
        Reach::of(&mut conn, &id).await?
    };
    let ids: Vec<i64> = report::scope(&reach, q.project.as_deref())?
        .iter()
        .map(|p| p.id)
        .collect();
    let limit = q
        .limit
        .and_then(|l| l.trim().parse::<i64>().ok())
        .unwrap_or(100)
        .clamp(1, 1000);
    let reports = kept::list(&app.db, Some(&ids), limit).await?;
    Ok(Json(json!({ "reports": reports })))
}

async fn kept_report(
    State(app): State<AppState>,
    AdminToken(who): AdminToken,
    Path(id): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let format = format_of(&q)?;
    let missing = || ApiError(AppError::not_found(format!("there is no report {id:?}")));
    let number: i64 = id.trim().parse().map_err(|_| missing())?;
    let reach = {
        let mut conn = app.db.acquire().await?;
        Reach::of(&mut conn, &who).await?
    };
    let visible = reach.ids();
    let (_, report) = kept::get(&app.db, number, |p| visible.contains(&p)).await?;
    Ok(answer(std::slice::from_ref(&report), format, true))
}
