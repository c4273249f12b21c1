//! Security headers on every kind of response (reliability plan F5).

use crate::support::TestApp;
use reqwest::{header, Response, StatusCode};

fn assert_security_headers(what: &str, r: &Response) {
    let h = r.headers();
    let get = |name: &str| {
        h.get(name)
            .unwrap_or_else(|| panic!("{what}: no {name} header"))
            .to_str()
            .unwrap()
            .to_string()
    };
    let csp = get("content-security-policy");
    for directive in [
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "script-src 'self'",
    ] {
        assert!(
            csp.contains(directive),
            "{what}: CSP {csp:?} lacks {directive}"
        );
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{what}: {csp}"
    );
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("referrer-policy"), "same-origin", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    // Plain loopback HTTP: no HSTS (documented development exception).
    assert!(h.get("strict-transport-security").is_none(), "{what}");
}

#[tokio::test]
async fn pages_api_errors_404s_and_static_files_carry_the_security_headers() {
    let app = TestApp::spawn().await;
    let b = app.browser();

    let r = b.get("/login").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    assert_security_headers("login page", &r);

    let r = app.api(None).get("/api/admin/projects").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
    assert_security_headers("API error", &r);

    let r = b.get("/no/such/page").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_security_headers("404 page", &r);

    let r = app.api(None).get("/api/admin/no-such-route").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
    assert_security_headers("API 404", &r);

    let r = b.get("/static/app.css").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert_security_headers("static file", &r);

    let r = b.get("/healthz").await;
    assert_security_headers("health probe", &r);
}
