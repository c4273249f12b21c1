//! Middleware shared by every route: request ids, security headers, size and time limits, and
//! error bodies for responses that would otherwise be empty.

pub mod csrf;
pub mod headers;
pub mod probes;

use crate::config::Settings;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;

/// The id of one request, echoed in `x-request-id` and recorded in audit entries.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

pub fn wrap(app: Router, settings: &Settings) -> Router {
    let secure = settings.secure_cookies;
    app.layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(RequestBodyLimitLayer::new(settings.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            settings.request_timeout,
        ))
        // Outside the limits, so their bare 413 and 408 get our error shape too.
        .layer(middleware::from_fn(fill_empty_errors))
        .layer(middleware::from_fn(move |req, next| {
            headers::secure(secure, req, next)
        }))
        .layer(middleware::from_fn(probes::count))
        .layer(middleware::from_fn(request_id))
}

async fn request_id(mut req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().simple().to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    let span =
        tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path());
    let mut res = next.run(req).instrument(span).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

pub fn is_api_path(path: &str) -> bool {
    let p = path.trim_start_matches('/');
    p.starts_with("api/") || p.starts_with("ofrep/") || p == "api"
}

/// Errors produced by layers (413, 408, 405 …) come without a body; give them the same shape as
/// our own errors: JSON on API paths, a short page elsewhere.
async fn fill_empty_errors(req: Request, next: Next) -> Response {
    let api = is_api_path(req.uri().path());
    let res = next.run(req).await;
    let status = res.status();
    let ours = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json") || ct.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || ours {
        return res;
    }
    if let Some(detail) = res.extensions().get::<crate::error::ErrorDetail>().cloned() {
        let (parts, _) = res.into_parts();
        let mut out = if api {
            crate::api::error_body(status, detail.code, &detail.message)
        } else {
            crate::web::error_page(status, &crate::web::sentence(&detail.message))
        };
        copy_headers(&parts.headers, &mut out);
        return out;
    }
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("body-too-large", "the request body is larger than 1 MiB")
        }
        StatusCode::REQUEST_TIMEOUT => ("request-timeout", "the request took too long to arrive"),
        StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "this method is not allowed here"),
        StatusCode::NOT_FOUND => ("not-found", "there is nothing at this address"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported-media-type", "send the body as JSON"),
        _ => ("error", "the request could not be handled"),
    };
    let (parts, _) = res.into_parts();
    let mut out = if api {
        crate::api::error_body(status, code, message)
    } else {
        crate::web::error_page(status, message)
    };
    copy_headers(&parts.headers, &mut out);
    *out.status_mut() = status;
    out
}

fn copy_headers(from: &axum::http::HeaderMap, to: &mut Response) {
    for (k, v) in from.iter() {
        if k != header::CONTENT_LENGTH && k != header::CONTENT_TYPE {
            to.headers_mut().insert(k.clone(), v.clone());
        }
    }
}

pub fn empty(status: StatusCode) -> Response {
    (status, Body::empty()).into_response()
}

/// A successful write may have changed what the feed serves: have it look now rather than at
/// its next poll.
pub async fn poke_after_writes(
    watcher: crate::feed::watcher::Watcher,
    req: Request,
    next: Next,
) -> Response {
    let write = !matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    let res = next.run(req).await;
    if write && (res.status().is_success() || res.status().is_redirection()) {
        watcher.poke();
    }
    res
}
