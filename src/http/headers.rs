//! Security headers on every response (see shared/spec/reliability-tests.md, "Security headers").

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};

const PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");
const COOP: HeaderName = HeaderName::from_static("cross-origin-opener-policy");
const CORP: HeaderName = HeaderName::from_static("cross-origin-resource-policy");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'; object-src 'none'";

const PERMISSIONS: &str = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), \
     fullscreen=(), accelerometer=(), gyroscope=(), magnetometer=(), midi=()";

// Values checked once, at compile time: `HeaderValue::from_static` called at run time checks
// every byte of these long policies again, which was a tenth of an SDK poll's instructions.
const CSP_VALUE: HeaderValue = HeaderValue::from_static(CSP);
const PERMISSIONS_VALUE: HeaderValue = HeaderValue::from_static(PERMISSIONS);
const DENY: HeaderValue = HeaderValue::from_static("DENY");
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
const SAME_ORIGIN: HeaderValue = HeaderValue::from_static("same-origin");
const HSTS: HeaderValue = HeaderValue::from_static("max-age=63072000; includeSubDomains");
const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");

/// Sets the security headers on a response; `is_static` responses keep their own caching.
pub fn secure(secure: bool, is_static: bool, h: &mut HeaderMap) {
    h.reserve(10);
    h.insert(header::CONTENT_SECURITY_POLICY, CSP_VALUE);
    h.insert(header::X_FRAME_OPTIONS, DENY);
    h.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF);
    h.insert(header::REFERRER_POLICY, SAME_ORIGIN);
    h.insert(PERMISSIONS_POLICY, PERMISSIONS_VALUE);
    h.insert(COOP, SAME_ORIGIN);
    h.entry(CORP).or_insert(SAME_ORIGIN);
    if secure {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    if !is_static {
        h.entry(header::CACHE_CONTROL).or_insert(NO_STORE);
    }
}
