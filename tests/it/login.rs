//! Signing in and out (reliability plan D2, D5, D6).

use crate::support::{signed_in_with_cookie, TestApp, ADMIN_EMAIL, PASSWORD};
use insta::assert_snapshot;
use reqwest::{header, StatusCode};

#[tokio::test]
async fn a_wrong_password_answers_401_and_starts_no_session() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let r = b.login(ADMIN_EMAIL, "not-the-password-at-all").await;
    assert_snapshot!(r.status(), @"401 Unauthorized");
    let html = r.text().await.unwrap();
    assert!(html.contains("Wrong e-mail or password."), "{html}");
    assert!(!b.is_signed_in().await);

    // An unknown account answers exactly like a wrong password (no user enumeration).
    let r = b.login("nobody@example.com", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(!b.is_signed_in().await);
}

#[tokio::test]
async fn signing_in_redirects_home_and_rotates_the_session_id() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    assert!(b.csrf_from("/login").await.is_some());
    assert!(
        b.session_cookie().is_none(),
        "the login page stores no session (its CSRF token lives in a signed cookie)"
    );
    // So the id an attacker plants is one of their choosing (well-formed, 128 bits).
    let before = "c3dpdGNoeWFyZC1maXhhdA".to_string();
    let url = reqwest::Url::parse(&app.base).unwrap();
    let planted = format!("switchyard={before}; Path=/");
    reqwest::cookie::CookieStore::set_cookies(
        &*b.jar,
        &mut [header::HeaderValue::from_str(&planted).unwrap()].iter(),
        &url,
    );
    assert_eq!(b.session_cookie().as_deref(), Some(before.as_str()));

    let r = b.login(ADMIN_EMAIL, PASSWORD).await;
    assert_snapshot!(r.status(), @"303 See Other");
    assert_eq!(r.headers()[header::LOCATION], "/");
    let after = b.session_cookie().expect("a session cookie after sign-in");
    assert_ne!(before, after, "the session id must change at sign-in");
    assert!(b.is_signed_in().await);

    // The pre-login id (which an attacker could have planted) opens nothing.
    assert!(!signed_in_with_cookie(&app.base, &before).await);
    assert!(signed_in_with_cookie(&app.base, &after).await);
}

#[tokio::test]
async fn signing_in_honours_only_same_site_next_paths() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let token = b.csrf_from("/login").await.unwrap();
    let r = b
        .post_form(
            "/login",
            &[
                ("email", ADMIN_EMAIL),
                ("password", PASSWORD),
                ("csrf_token", &token),
                ("next", "//evil.example/steal"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[header::LOCATION], "/");
}

#[tokio::test]
async fn logging_out_ends_the_session_on_the_server() {
    let app = TestApp::spawn().await;
    let b = app.signed_in(ADMIN_EMAIL).await;
    let cookie = b.session_cookie().unwrap();
    let token = b.csrf().await;
    let r = b.post_form("/logout", &[("csrf_token", &token)], &[]).await;
    assert_snapshot!(r.status(), @"303 See Other");
    assert_eq!(r.headers()[header::LOCATION], "/login");

    // Replaying the old cookie: not signed in, and the home page sends it to the login form.
    assert!(!signed_in_with_cookie(&app.base, &cookie).await);
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/"))
        .header(header::COOKIE, format!("switchyard={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()[header::LOCATION].to_str().unwrap();
    assert!(to.starts_with("/login"), "{to}");
}

#[tokio::test]
async fn the_eleventh_attempt_is_throttled_even_with_the_right_password() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    for i in 0..10 {
        let r = b.login(ADMIN_EMAIL, "wrong-password-guess").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {}", i + 1);
    }
    let r = b.login(ADMIN_EMAIL, PASSWORD).await;
    assert_snapshot!(r.status(), @"429 Too Many Requests");
    let retry: u64 = r.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert!(!b.is_signed_in().await);

    // Another browser is held back too: the account is throttled, whoever asks.
    let other = app.browser();
    let r = other.login(ADMIN_EMAIL, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(!other.is_signed_in().await);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_lax_and_host_wide() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    let r = b.login(ADMIN_EMAIL, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("switchyard="))
        .expect("sign-in sets the session cookie");
    let attrs: Vec<String> = cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    assert!(attrs.contains(&"httponly".to_string()), "{cookie}");
    assert!(attrs.contains(&"samesite=lax".to_string()), "{cookie}");
    assert!(attrs.contains(&"path=/".to_string()), "{cookie}");
    assert!(!attrs.iter().any(|a| a.starts_with("domain=")), "{cookie}");
    // Plain loopback HTTP: not Secure (the documented development exception).
    assert!(!attrs.contains(&"secure".to_string()), "{cookie}");
}

#[tokio::test]
async fn password_spraying_from_one_address_is_throttled_too() {
    // Per address the limit is 100 a minute (one address is often many people, issue 11
    // item 13), against 10 per account.
    let app = TestApp::spawn().await;
    let b = app.browser();
    let token = b.csrf_from("/login").await.unwrap();
    for round in 0..10 {
        let attempts = (0..10).map(|i| {
            let email = format!("user{round}-{i}@example.com");
            let (b, token) = (&b, token.as_str());
            async move {
                let form = [
                    ("email", email.as_str()),
                    ("password", "Spring2026!"),
                    ("csrf_token", token),
                ];
                b.post_form("/login", &form, &[]).await.status()
            }
        });
        for status in futures_util::future::join_all(attempts).await {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "round {round}");
        }
    }
    let r = b.login(ADMIN_EMAIL, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key(header::RETRY_AFTER));
    assert!(!b.is_signed_in().await);
}
