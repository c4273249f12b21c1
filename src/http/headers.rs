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

/// Sets the security headers on a response; `is_static` responses keep their own caching.
pub fn secure(secure: bool, is_static: bool, h: &mut HeaderMap) {
    h.reserve(10);
    let set = |h: &mut HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(h, PERMISSIONS_POLICY, PERMISSIONS);
    set(h, COOP, "same-origin");
    if !h.contains_key(&CORP) {
        set(h, CORP, "same-origin");
    }
    if secure {
        set(
            h,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        );
    }
    if !is_static && !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
}
