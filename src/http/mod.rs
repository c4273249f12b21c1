//! Middleware shared by every route: request ids, security headers, size and time limits, and
//! error bodies for responses that would otherwise be empty. `server` accepts the connections
//! they arrive on; `commands` runs the governed commands whose permission depends on what they
//! load, for web and API handlers alike.

pub mod commands;
pub mod csrf;
pub mod error;
pub mod extract;
pub mod headers;
pub mod probes;
pub mod scrape;
pub mod server;

use crate::config::Settings;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::sync::atomic::{AtomicU64, Ordering};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;

/// The id of one request, echoed in `x-request-id` and recorded in audit entries.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

impl RequestId {
    /// A random per-process prefix and a counter: unique without asking the kernel for
    /// randomness on every request (the feed answers tens of thousands per second).
    fn next() -> Self {
        static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let prefix = *PREFIX.get_or_init(|| uuid::Uuid::new_v4().as_u64_pair().0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Self(hex_pair(prefix, n))
    }
}

/// `format!("{a:016x}{b:016x}")` by hand: the formatter's way was a twentieth of an SDK poll's
/// instructions.
fn hex_pair(a: u64, b: u64) -> String {
    let mut hex = [0u8; 32];
    for (i, digit) in hex.iter_mut().enumerate() {
        let word = if i < 16 { a } else { b };
        let nibble = (word >> (60 - 4 * (i % 16))) & 0xf;
        *digit = b"0123456789abcdef"[nibble as usize];
    }
    String::from_utf8_lossy(&hex).into_owned()
}

/// What the envelope needs to know about the app.
#[derive(Clone)]
pub struct Envelope {
    /// Served over TLS (or behind it): send HSTS.
    pub secure: bool,
    /// For the feed's fast lane.
    pub feed: crate::feed::FeedState,
    /// Gives an error its body for its audience: JSON on API paths, a page elsewhere (the
    /// transports' own renderers, handed in so this layer stays below them).
    pub render_error: error::RenderError,
}

pub fn wrap(app: Router, settings: &Settings, envelope: Envelope) -> Router {
    app.layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(RequestBodyLimitLayer::new(settings.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            settings.request_timeout,
        ))
        // Outside the limits, so their bare 413 and 408 get our error shape too.
        .layer(middleware::from_fn(move |req, next| {
            envelope_request(envelope.clone(), req, next)
        }))
}

/// Everything every request gets, in one layer (each layer costs a boxed future and a clone
/// of the service on the feed's hot path): a request id, error bodies for empty errors, the
/// security headers and the counts of answers by route family and status class.
async fn envelope_request(envelope: Envelope, mut req: Request, next: Next) -> Response {
    let id = RequestId::next();
    let path = req.uri().path();
    let kind = PathKind::of(path);
    let span = tracing::info_span!("request", id = %id.0, method = %req.method(), path = %path);
    let header_id = HeaderValue::try_from(id.0.clone()).ok();
    req.extensions_mut().insert(id);
    let res = next.run(req).instrument(span).await;
    envelope.finish(kind, header_id, res)
}

/// What the envelope needs to know about a request's path.
#[derive(Clone, Copy)]
struct PathKind {
    api: bool,
    is_static: bool,
    family: crate::metrics::traffic::Family,
}

impl PathKind {
    fn of(path: &str) -> Self {
        Self {
            api: is_api_path(path),
            is_static: path.starts_with("/static/"),
            family: crate::metrics::traffic::Family::of(path),
        }
    }
}

impl Envelope {
    /// The envelope's part of every answer, wherever it was made.
    fn finish(&self, kind: PathKind, id: Option<HeaderValue>, res: Response) -> Response {
        // The probes answer orchestrators and operators in plain text, the reason for a 503
        // included: an error page in its place would hide why the replica is not ready.
        let mut res = match kind.family {
            crate::metrics::traffic::Family::Probes => res,
            _ => fill_empty_errors(kind.api, res, self.render_error),
        };
        headers::secure(self.secure, kind.is_static, res.headers_mut());
        crate::metrics::traffic::answered(kind.family, res.status().as_u16());
        if let Some(v) = id {
            res.headers_mut().insert("x-request-id", v);
        }
        res
    }
}

/// The service `serve` runs: SDK polls that change nothing (the feed's most frequent request
/// by far) and SDK metrics posts are answered here, before routing and the per-route layers,
/// with the envelope's headers and, for posts, the body limit and timeout those layers apply;
/// everything else goes to the router.
#[derive(Clone)]
pub struct FastLane {
    pub router: Router,
    pub envelope: Envelope,
    pub body_limit: usize,
    pub request_timeout: std::time::Duration,
}

type Answer = Result<Response, std::convert::Infallible>;

impl tower::Service<Request> for FastLane {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = futures_util::future::Either<
        futures_util::future::Either<
            std::future::Ready<Answer>,
            std::pin::Pin<Box<dyn std::future::Future<Output = Answer> + Send>>,
        >,
        <Router as tower::Service<Request>>::Future,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        tower::Service::<Request>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        use futures_util::future::Either;
        if let Some(res) = crate::feed::fast_lane(&self.envelope.feed, &req) {
            let id = HeaderValue::try_from(RequestId::next().0).ok();
            let kind = PathKind::of(req.uri().path());
            return Either::Left(Either::Left(std::future::ready(Ok(self
                .envelope
                .finish(kind, id, res)))));
        }
        if crate::feed::is_metrics_post(&req) {
            let envelope = self.envelope.clone();
            let (limit, timeout) = (self.body_limit, self.request_timeout);
            return Either::Left(Either::Right(Box::pin(async move {
                let id = HeaderValue::try_from(RequestId::next().0).ok();
                let kind = PathKind::of(req.uri().path());
                let (parts, body) = req.into_parts();
                let res = match tokio::time::timeout(timeout, whole_body(&parts, body, limit)).await
                {
                    Err(_) => empty(StatusCode::REQUEST_TIMEOUT),
                    Ok(Err(status)) => empty(status),
                    Ok(Ok(body)) => {
                        crate::feed::metrics_posted(&envelope.feed, &parts.headers, &body)
                    }
                };
                Ok(envelope.finish(kind, id, res))
            })));
        }
        Either::Right(self.router.call(req))
    }
}

/// A request's body, at most `limit` bytes, or the status saying why not (413 too large, 400
/// cut short), as the router's limit layers answer.
async fn whole_body(
    parts: &axum::http::request::Parts,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, StatusCode> {
    use http_body_util::BodyExt;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(StatusCode::PAYLOAD_TOO_LARGE);
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(StatusCode::PAYLOAD_TOO_LARGE),
        Err(_) => Err(StatusCode::BAD_REQUEST),
    }
}

pub fn is_api_path(path: &str) -> bool {
    let p = path.trim_start_matches('/');
    p.starts_with("api/") || p.starts_with("ofrep/") || p == "api"
}

/// Errors produced by layers (413, 408, 405 …) come without a body; give them the same shape as
/// our own errors: JSON on API paths, a short page elsewhere.
fn fill_empty_errors(api: bool, res: Response, render: error::RenderError) -> Response {
    let status = res.status();
    let ours = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json") || ct.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || ours {
        return res;
    }
    if let Some(detail) = res.extensions().get::<error::ErrorDetail>().cloned() {
        let (parts, _) = res.into_parts();
        let mut out = render(api, status, detail.code, &detail.message);
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
    let mut out = render(api, status, code, message);
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

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_the_two_numbers_in_fixed_width_hex() {
        for (a, b) in [(0, 0), (1, 255), (u64::MAX, 0x0123_4567_89ab_cdef)] {
            assert_eq!(super::hex_pair(a, b), format!("{a:016x}{b:016x}"));
        }
    }
}
