//! The read-only evaluation feed for SDKs: Unleash client and frontend APIs and OpenFeature OFREP.
//! Handlers see only [`FeedState`]: in-memory snapshots and the token index, never the pool.

mod client;
mod frontend;
mod ofrep;
mod scope;
pub mod snapshot;
mod store;
mod streaming;
pub mod tokens;
pub mod usage;
pub mod watcher;

use axum::http::{header, HeaderValue, Method};
use axum::Router;
use std::sync::Arc;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

pub use client::{is_metrics_post, metrics_posted, unchanged as fast_lane};
pub use snapshot::Snapshots;
pub use tokens::FeedTokens;

/// What the feed's handlers may touch: no database.
#[derive(Clone)]
pub struct FeedState {
    pub snapshots: Arc<Snapshots>,
    pub tokens: Arc<FeedTokens>,
    pub usage: Arc<usage::Usage>,
    /// Impact metrics are handed over here, never written on the request path.
    pub signals: Arc<crate::signals::ingest::Ingest>,
}

pub fn router(feed: FeedState) -> Router {
    // Browser SDKs call from other origins with their token; no cookies are involved.
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
            header::HeaderName::from_static("x-api-key"),
            header::HeaderName::from_static("unleash-appname"),
            header::HeaderName::from_static("unleash-sdk"),
            header::HeaderName::from_static("unleash-connection-id"),
            header::HeaderName::from_static("unleash-instanceid"),
            header::HeaderName::from_static("unleash-client-spec"),
        ])
        .expose_headers([header::ETAG])
        .max_age(std::time::Duration::from_secs(86400));
    Router::new()
        .merge(client::routes())
        .merge(frontend::routes())
        .merge(ofrep::routes())
        .merge(streaming::routes())
        .with_state(feed)
        .layer(cors)
        // Feed answers are read by browsers on other origins.
        .layer(SetResponseHeaderLayer::overriding(
            header::HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("cross-origin"),
        ))
}

/// What the feed's CORS layer adds to the answer of a simple (not preflight) request, for the
/// fast lane that answers before the layer is reached.
fn cross_origin_simple(h: &mut axum::http::HeaderMap) {
    // Constants, so the values are checked at compile time rather than on every SDK poll.
    const ANY: HeaderValue = HeaderValue::from_static("*");
    const EXPOSED: HeaderValue = HeaderValue::from_static("etag");
    const VARY: HeaderValue = HeaderValue::from_static(
        "origin, access-control-request-method, access-control-request-headers",
    );
    const CORP: header::HeaderName =
        header::HeaderName::from_static("cross-origin-resource-policy");
    const CROSS_ORIGIN: HeaderValue = HeaderValue::from_static("cross-origin");
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, ANY);
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSED);
    h.insert(header::VARY, VARY);
    h.insert(CORP, CROSS_ORIGIN);
}
