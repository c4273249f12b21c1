//! Code references: a repository's scan uploaded (by `switchyard scan --url`, from CI) in
//! place of its previous one, the repositories that reported, one repository's scan, one
//! flag's references, and the project's repository URL template. Uploading is editing the
//! project's flags (`Action::EditFlag`); reading is viewing the project.

use super::{ApiError, ApiJson};
use crate::authz::{Action, ProjectAccess};
use crate::coderefs::{self, upload};
use crate::db::begin_write;
use crate::error::AppError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::Read;

/// An upload may arrive gzipped (`Content-Encoding: gzip`) to fit the body limit; unpacked it
/// may be this large, and no larger.
const MAX_UNPACKED: u64 = 64 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    let base = "/api/admin/projects/{project}";
    Router::new()
        .route(&format!("{base}/code-references"), get(list_repositories))
        .route(
            &format!("{base}/code-references/{{repository}}"),
            get(get_scan).put(put_scan),
        )
        .route(
            &format!("{base}/flags/{{key}}/code-references"),
            get(flag_references),
        )
        .route(
            &format!("{base}/code-url-template"),
            get(get_template).put(put_template),
        )
}

#[derive(Deserialize)]
struct RepositoryPath {
    #[allow(dead_code)]
    project: String,
    repository: String,
}

#[derive(Deserialize)]
struct FlagPath {
    #[allow(dead_code)]
    project: String,
    key: String,
}

async fn list_repositories(
    State(app): State<AppState>,
    access: ProjectAccess,
) -> Result<Json<Value>, ApiError> {
    access.require(Action::ViewProject)?;
    let mut conn = app.db.acquire().await?;
    let repositories = coderefs::repositories(&mut conn, &access.project).await?;
    Ok(Json(json!({ "repositories": repositories })))
}

async fn get_scan(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<RepositoryPath>,
) -> Result<Json<Value>, ApiError> {
    access.require(Action::ViewProject)?;
    let mut conn = app.db.acquire().await?;
    let (scan, references) =
        coderefs::repository_scan(&mut conn, &access.project, &p.repository).await?;
    Ok(Json(json!({ "scan": scan, "references": references })))
}

async fn put_scan(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<RepositoryPath>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    access.require(Action::EditFlag)?;
    let body = json_body(&headers, &body)?;
    let scan = upload::parse(&body, app.now())?;
    let mut tx = begin_write(&app.db).await?;
    let summary = coderefs::record_scan(
        &mut tx,
        access.actor(),
        &access.project,
        &p.repository,
        scan,
        app.now(),
    )
    .await?;
    app.writes.commit(tx).await?;
    Ok(Json(json!({ "scan": summary })))
}

/// The body as JSON, gunzipped first when it says so.
fn json_body(headers: &HeaderMap, raw: &Bytes) -> Result<Value, AppError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let unpacked;
    let bytes: &[u8] = match encoding.as_str() {
        "identity" | "" => raw,
        "gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .take(MAX_UNPACKED + 1)
                .read_to_end(&mut out)
                .map_err(|_| {
                    AppError::bad_request("malformed-body", "the gzip body could not be unpacked")
                })?;
            if out.len() as u64 > MAX_UNPACKED {
                return Err(AppError::bad_request(
                    "body-too-large",
                    "the unpacked body is larger than 64 MiB",
                ));
            }
            unpacked = out;
            &unpacked
        }
        other => {
            return Err(AppError::bad_request(
                "unsupported-encoding",
                format!("send the body as JSON, plain or gzip, not {other}"),
            ))
        }
    };
    serde_json::from_slice(bytes).map_err(|e| {
        AppError::bad_request("malformed-json", format!("the body is not valid JSON: {e}"))
    })
}

async fn flag_references(
    State(app): State<AppState>,
    access: ProjectAccess,
    Path(p): Path<FlagPath>,
) -> Result<Json<Value>, ApiError> {
    access.require(Action::ViewProject)?;
    let mut conn = app.db.acquire().await?;
    let found = coderefs::flag_references(&mut conn, &access.project, &p.key).await?;
    Ok(Json(json!(found)))
}

async fn get_template(
    State(app): State<AppState>,
    access: ProjectAccess,
) -> Result<Json<Value>, ApiError> {
    access.require(Action::ViewProject)?;
    let mut conn = app.db.acquire().await?;
    let template = coderefs::store::url_template(&mut conn, access.project.id).await?;
    Ok(Json(json!({ "codeUrlTemplate": template })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TemplateBody {
    code_url_template: Option<String>,
}

async fn put_template(
    State(app): State<AppState>,
    access: ProjectAccess,
    ApiJson(body): ApiJson<TemplateBody>,
) -> Result<Json<Value>, ApiError> {
    access.require(Action::ManageSettings)?;
    let raw = body.code_url_template.unwrap_or_default();
    let mut tx = begin_write(&app.db).await?;
    let template =
        coderefs::set_url_template(&mut tx, access.actor(), &access.project, &raw, app.now())
            .await?;
    app.writes.commit(tx).await?;
    Ok(Json(json!({ "codeUrlTemplate": template })))
}
