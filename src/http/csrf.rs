//! Refuses state-changing browser requests that come from another site: Fetch Metadata and Origin
//! first, then the session's synchronizer token (header or form field) — OWASP's CSRF cheat sheet.

use crate::auth::csrf;
use crate::error::AppError;
use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_sessions::Session;

const REFUSED: &str =
    "this form came from another site or has expired; reload the page and try again";

pub async fn guard(session: Session, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    if cross_site(&req) {
        tracing::warn!(target: "security", path = %req.uri().path(), "cross-site request refused");
        return AppError::forbidden(REFUSED).into_response();
    }
    let header_token = req
        .headers()
        .get(csrf::HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (req, presented) = match header_token {
        Some(t) => (req, t),
        None => match form_token(req).await {
            Ok(pair) => pair,
            Err(res) => return res,
        },
    };
    let signed_in = crate::auth::session::current(&session).await.is_some();
    if !csrf::matches(&session, signed_in, req.headers(), &presented).await {
        tracing::warn!(target: "security", path = %req.uri().path(), "missing or wrong CSRF token");
        return AppError::forbidden(REFUSED).into_response();
    }
    next.run(req).await
}

/// A browser always sends Origin on cross-origin POSTs and Sec-Fetch-Site when it supports it.
fn cross_site(req: &Request) -> bool {
    let h = req.headers();
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site == "cross-site" || site == "same-site" {
            return true;
        }
    }
    let Some(origin) = h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = h
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    origin == "null" || !origin_host.eq_ignore_ascii_case(host)
}

/// Reads the token from a URL-encoded form body and puts the body back for the handler.
async fn form_token(req: Request) -> Result<(Request, String), Response> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((req, String::new()));
    }
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => return Err(AppError::TooLarge.into_response()),
    };
    let token = form_urlencoded_value(&bytes, csrf::FORM_FIELD).unwrap_or_default();
    Ok((Request::from_parts(parts, Body::from(bytes)), token))
}

fn form_urlencoded_value(body: &[u8], key: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}
