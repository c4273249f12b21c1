//! Error pages that keep the frame of the person who met them (issue 9): a 403, 404 or 503
//! met while signed in shows the navigation, the search and the account links like any page.
//!
//! A page handler's error is first rendered plainly ([`error_page`], which needs nothing);
//! [`with_layout`] then draws it again in the signed-in frame when it knows who is asking.
//! Addresses that match no route get the same through [`not_found`], the app's fallback.

use super::{sentence, Layout};
use crate::http::error::ErrorDetail;
use crate::http::extract::CurrentUser;
use crate::state::AppState;
use askama::Template;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use tower_sessions::Session;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    message: String,
}

/// What an error page said, kept on the response so that [`with_layout`] can say it again.
#[derive(Clone)]
struct Shown {
    message: String,
}

fn page(layout: Layout, status: StatusCode, message: &str) -> Response {
    let page = ErrorPage {
        layout,
        status: status.as_u16(),
        message: message.to_string(),
    };
    let mut res = match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, message.to_string()).into_response(),
    };
    res.extensions_mut().insert(Shown {
        message: message.to_string(),
    });
    res
}

/// A plain error page, for errors that happen before we know who is asking.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    page(
        Layout::bare(status.canonical_reason().unwrap_or("Error")),
        status,
        message,
    )
}

/// The error page in the frame of whoever is signed in, or the plain one.
async fn framed(
    app: &AppState,
    probe: &mut axum::http::request::Parts,
    status: StatusCode,
    message: &str,
) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let session = probe.extensions.get::<Session>().cloned();
    let who = CurrentUser::from_request_parts(probe, app).await.ok();
    match (session, who) {
        (Some(session), Some(CurrentUser(id))) => page(
            Layout::new(&session, Some(&id), title, "").await,
            status,
            message,
        ),
        _ => error_page(status, message),
    }
}

/// Draws a page handler's error again inside the signed-in frame. Placed inside the layer that
/// already identified the caller, so that only an error costs anything here; htmx partials
/// keep the plain page (they are swapped into a page that has its frame).
pub async fn with_layout(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let htmx = req.headers().contains_key("hx-request");
    let (mut probe, _) = Request::new(()).into_parts();
    probe.headers = req.headers().clone();
    probe.extensions = req.extensions().clone();
    let res = next.run(req).await;
    if htmx {
        return res;
    }
    let status = res.status();
    // A page handler's error page, or an extractor's refusal (a project one may not see).
    let message = match (
        res.extensions().get::<Shown>(),
        res.extensions().get::<ErrorDetail>(),
    ) {
        (Some(shown), _) => shown.message.clone(),
        (None, Some(detail)) if status != StatusCode::UNAUTHORIZED => sentence(&detail.message),
        _ => return res,
    };
    let retry = res.headers().get(header::RETRY_AFTER).cloned();
    let mut out = framed(&app, &mut probe, status, &message).await;
    if let Some(v) = retry {
        out.headers_mut().insert(header::RETRY_AFTER, v);
    }
    out
}

/// The app's fallback: an address no route knows. API paths get an empty 404 that the envelope
/// answers as JSON; pages get the error page, in the signed-in frame when there is one.
pub async fn not_found(State(app): State<AppState>, req: Request) -> Response {
    if crate::http::is_api_path(req.uri().path()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let (mut parts, _) = req.into_parts();
    let mut res = framed(
        &app,
        &mut parts,
        StatusCode::NOT_FOUND,
        &sentence("there is nothing at this address"),
    )
    .await;
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
