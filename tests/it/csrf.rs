//! Cross-site request forgery (reliability plan F1, F3).

use crate::support::{TestApp, ADMIN_EMAIL, PASSWORD};
use insta::assert_snapshot;
use reqwest::StatusCode;

const EVIL: &str = "https://evil.example";

#[tokio::test]
async fn a_signed_in_post_without_a_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let b = app.signed_in(ADMIN_EMAIL).await;
    let r = b.post_form("/logout", &[], &[]).await;
    assert_snapshot!(r.status(), @"403 Forbidden");
    let html = r.text().await.unwrap();
    assert!(html.contains("another site or has expired"), "{html}");
    assert!(b.is_signed_in().await, "a refused logout must not log out");

    // A wrong token is no better than none, as a form field or as the htmx header.
    let r = b.post_form("/logout", &[("csrf_token", "0000")], &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = b
        .post_form("/logout", &[], &[("x-csrf-token", "0000")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(b.is_signed_in().await);
}

#[tokio::test]
async fn a_cross_site_post_is_refused_even_with_a_valid_token() {
    let app = TestApp::spawn().await;
    let b = app.signed_in(ADMIN_EMAIL).await;
    let token = b.csrf().await;

    let r = b
        .post_form("/logout", &[("csrf_token", &token)], &[("Origin", EVIL)])
        .await;
    assert_snapshot!(r.status(), @"403 Forbidden");
    assert!(b.is_signed_in().await);

    let r = b
        .post_form(
            "/logout",
            &[("csrf_token", &token)],
            &[("Sec-Fetch-Site", "cross-site")],
        )
        .await;
    assert_snapshot!(r.status(), @"403 Forbidden");
    assert!(b.is_signed_in().await);

    let r = b
        .post_form("/logout", &[("csrf_token", &token)], &[("Origin", "null")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(b.is_signed_in().await);

    // The same request from our own origin goes through.
    let r = b.post_form("/logout", &[("csrf_token", &token)], &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(!b.is_signed_in().await);
}

#[tokio::test]
async fn a_cross_site_login_is_refused() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let token = b.csrf_from("/login").await.unwrap();
    let form = [
        ("email", ADMIN_EMAIL),
        ("password", PASSWORD),
        ("csrf_token", token.as_str()),
    ];
    let r = b.post_form("/login", &form, &[("Origin", EVIL)]).await;
    assert_snapshot!(r.status(), @"403 Forbidden");
    assert!(!b.is_signed_in().await);

    let r = b
        .post_form("/login", &form, &[("Sec-Fetch-Site", "cross-site")])
        .await;
    assert_snapshot!(r.status(), @"403 Forbidden");
    assert!(!b.is_signed_in().await);

    // Without the session's token (a forged form from elsewhere) it is refused as well.
    let r = app
        .browser()
        .post_form(
            "/login",
            &[("email", ADMIN_EMAIL), ("password", PASSWORD)],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // And the honest form signs in.
    let r = b.post_form("/login", &form, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(b.is_signed_in().await);
}
