//! The web app: server-rendered pages (askama) with htmx for in-place updates.
//! Every state has its own URL; htmx requests get the partial, others the full page.

mod account;
mod admin;
mod audit;
mod changes;
mod chart;
mod described;
mod errors;
mod evidence;
mod explain;
mod flags;
mod form;
mod handler;
mod home;
pub mod href;
mod layout;
mod login;
mod projects;
mod releases;
mod reports;
mod search;
mod targeting;
pub mod text;
mod tokens;
mod turns;

pub use errors::{error_page, not_found};
pub use form::{Errors, WebForm};
pub use handler::{render_form, render_secret_form, render_with, Ctx, ProjectCtx, UserCtx};
pub use layout::{Flash, Layout, LayoutUser};

use crate::error::AppError;
use crate::state::AppState;
use askama::Template;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Router;
use tower_http::services::ServeDir;

pub fn router(state: AppState) -> Router {
    let pages = Router::new()
        .merge(login::routes())
        .merge(home::routes())
        .merge(account::routes())
        .merge(projects::routes())
        .merge(flags::routes())
        .merge(targeting::routes())
        .merge(tokens::routes())
        .merge(audit::routes())
        .merge(admin::routes())
        .merge(changes::routes())
        .merge(explain::routes())
        .merge(reports::routes())
        .merge(search::routes())
        .merge(releases::routes())
        .layer(middleware::from_fn(crate::http::csrf::guard))
        .layer(middleware::from_fn(to_login))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            errors::with_layout,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            changes::with_db,
        ))
        .layer(middleware::from_fn_with_state(
            turns::Turns::per_core(),
            turns::take_turns,
        ));
    let static_files = Router::new()
        .nest_service("/static", ServeDir::new(static_dir()))
        .layer(middleware::from_fn(static_cache));
    Router::new()
        .merge(pages)
        .merge(static_files)
        .with_state(state)
}

/// Static assets live beside the binary's sources; `SWITCHYARD_STATIC_DIR` overrides for installs.
fn static_dir() -> std::path::PathBuf {
    std::env::var_os("SWITCHYARD_STATIC_DIR")
        .map(Into::into)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static"))
}

async fn static_cache(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    if res.status().is_success() {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=3600"),
        );
    }
    res
}

/// Anonymous visitors of a page are sent to sign in, and come back afterwards.
async fn to_login(req: Request, next: Next) -> Response {
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let htmx = req.headers().contains_key("hx-request");
    let is_login = req.uri().path() == "/login";
    let res = next.run(req).await;
    if res.status() != StatusCode::UNAUTHORIZED || is_login {
        return res;
    }
    let next_q = serde_urlencoded::to_string([("next", target.as_str())]).unwrap_or_default();
    let to = format!("/login?{next_q}");
    if htmx {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        if let Ok(v) = HeaderValue::from_str(&to) {
            r.headers_mut().insert("hx-redirect", v);
        }
        return r;
    }
    Redirect::to(&to).into_response()
}

/// Errors of page handlers.
pub struct PageError(pub AppError);

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        PageError(e)
    }
}

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> Self {
        PageError(e.into())
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        PageError(AppError::Internal(e.into()))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        if matches!(e, AppError::Unauthorized) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        let mut res = error_page(crate::http::error::status(&e), &sentence(&e.to_string()));
        if let AppError::TooManyRequests { retry_after } = e {
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

/// Error messages are lower-case clauses for JSON; pages show them as sentences.
pub fn sentence(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => {
            let mut out: String = f.to_uppercase().collect();
            out.push_str(c.as_str());
            if !out.ends_with('.') {
                out.push('.');
            }
            out
        }
        None => String::new(),
    }
}

pub type PageResult<T = Response> = Result<T, PageError>;

/// Renders a template into a response.
pub fn render(t: &impl Template) -> PageResult {
    Ok(Html(t.render()?).into_response())
}

/// Redirect after a successful form post; htmx follows `HX-Redirect`.
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}
