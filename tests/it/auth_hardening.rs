//! Sign-in, sessions, passwords and logs under attack (issue 11 items 7, 11, 12, 13 and 15;
//! reliability plan L6, L10, L13, D2, D10).

use crate::support::fresh::serve_without_users;
use crate::support::{
    assert_success, browser_at, on_postgres, Browser, TestApp, ADMIN_EMAIL, PASSWORD, PROJECT,
};
use futures_util::future::join_all;
use reqwest::{header, StatusCode};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BUSY: &str = "The database is busy or unavailable; try again shortly.";

/// The sign-in form with its CSRF token, posted with extra headers (proxy headers, mostly).
async fn sign_in_with(b: &Browser, email: &str, password: &str, headers: &[(&str, &str)]) -> u16 {
    let token = b
        .csrf_from("/login")
        .await
        .expect("the login page has a token");
    let form = [
        ("email", email),
        ("password", password),
        ("csrf_token", token.as_str()),
    ];
    b.post_form("/login", &form, headers)
        .await
        .status()
        .as_u16()
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// A clock file the server reads "now" from, so a throttle window can pass without sleeping.
struct TestClock {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl TestClock {
    fn at(now: &str) -> TestClock {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("now");
        std::fs::write(&path, now).unwrap();
        TestClock { _dir: dir, path }
    }

    fn set(&self, now: &str) {
        std::fs::write(&self.path, now).unwrap();
    }

    fn env(&self) -> (&'static str, String) {
        (
            "SWITCHYARD_TEST_CLOCK_FILE",
            self.path.display().to_string(),
        )
    }
}

// --- Item 7: the throttle holds under parallel attempts (L6) -----------------------------------

#[tokio::test]
async fn parallel_wrong_sign_ins_check_at_most_the_limit() {
    let clock = TestClock::at("2031-05-01T10:00:00Z");
    let (k, v) = clock.env();
    let app = TestApp::spawn_with_env(&[(k, &v)]).await;
    let b = app.browser();
    let token = b.csrf_from("/login").await.unwrap();
    let attempts = (0..100).map(|_| {
        let form = [
            ("email", ADMIN_EMAIL),
            ("password", "a-wrong-guess-at-it"),
            ("csrf_token", token.as_str()),
        ];
        let b = &b;
        async move { b.post_form("/login", &form, &[]).await.status().as_u16() }
    });
    let statuses = join_all(attempts).await;
    let checked = count(&statuses, 401);
    assert!(
        checked <= 10,
        "{checked} passwords were checked: {statuses:?}"
    );
    assert_eq!(count(&statuses, 429), 100 - checked, "{statuses:?}");

    // The right password is refused while the window lasts, and accepted once it has passed.
    assert_eq!(sign_in_with(&b, ADMIN_EMAIL, PASSWORD, &[]).await, 429);
    clock.set("2031-05-01T10:00:59Z");
    assert_eq!(sign_in_with(&b, ADMIN_EMAIL, PASSWORD, &[]).await, 429);
    clock.set("2031-05-01T10:01:01Z");
    assert_eq!(sign_in_with(&b, ADMIN_EMAIL, PASSWORD, &[]).await, 303);
    assert!(b.is_signed_in().await);
}

#[tokio::test]
async fn parallel_wrong_current_passwords_check_at_most_the_limit() {
    let app = TestApp::spawn().await;
    let user = app.user("viewer");
    let b = app.signed_in(&user.email).await;
    let csrf = b.csrf().await;
    let attempts = (0..30).map(|_| {
        let fields = [
            ("current", "not-my-password"),
            ("new", "a-brand-new-long-passphrase-77"),
            ("confirm", "a-brand-new-long-passphrase-77"),
            ("csrf_token", csrf.as_str()),
        ];
        let b = &b;
        async move {
            let r = b.post_form("/account/password", &fields, &[]).await;
            r.status().as_u16()
        }
    });
    let statuses = join_all(attempts).await;
    let checked = count(&statuses, 422);
    assert!(
        checked <= 5,
        "{checked} passwords were checked: {statuses:?}"
    );
    assert_eq!(count(&statuses, 429), 30 - checked, "{statuses:?}");
    assert!(b.is_signed_in().await);
}

// --- Item 11: a locked database keeps pages honest (L10) ---------------------------------------

async fn session_rows(app: &TestApp) -> i64 {
    // tower-sessions' own table: `tower_sessions` on SQLite, schema `tower_sessions` on PostgreSQL.
    let table = match on_postgres() {
        true => "select count(*) from tower_sessions.session",
        false => "select count(*) from tower_sessions",
    };
    let mut c = app.sql().await;
    switchyard::db::query_scalar(table)
        .fetch_one(&mut c)
        .await
        .unwrap()
}

#[tokio::test]
async fn anonymous_pages_store_no_session() {
    let app = TestApp::spawn().await;
    let before = session_rows(&app).await;
    let pages = [
        "/login",
        "/login?next=/projects",
        "/",
        "/projects",
        "/no-such-page",
    ];
    for i in 0..100 {
        let r = app.browser().get(pages[i % pages.len()]).await;
        assert!(r.status().as_u16() < 500, "{}", r.status());
    }
    assert_eq!(
        session_rows(&app).await,
        before,
        "anonymous GETs stored sessions"
    );

    // The login form still works (with its CSRF token) and signing in stores one session.
    let b = app.signed_in(ADMIN_EMAIL).await;
    assert!(b.is_signed_in().await);
    assert_eq!(session_rows(&app).await, before + 1);
}

#[tokio::test]
async fn the_sign_in_forms_csrf_cookie_is_host_only_and_secure_behind_tls() {
    let app = TestApp::spawn_with_env(&[("SWITCHYARD_SECURE_COOKIES", "true")]).await;
    let r = app.browser().get("/login").await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookies: Vec<String> = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(
        cookies.len(),
        1,
        "only the form's cookie, no session: {cookies:?}"
    );
    let c = &cookies[0];
    assert!(c.starts_with("__Host-switchyard-csrf="), "{c}");
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(c.split("; ").any(|a| a == attr), "{attr} missing: {c}");
    }
    assert!(!c.to_ascii_lowercase().contains("domain="), "{c}");
}

#[tokio::test]
async fn a_locked_database_answers_a_clear_503_page_never_a_500() {
    let app = TestApp::spawn().await;
    let signed_in = app.signed_in(ADMIN_EMAIL).await;
    let csrf = signed_in.csrf().await;
    let anonymous = app.browser();
    let token = anonymous.csrf_from("/login").await.unwrap();
    let admin = app.admin();

    // SQLite's file lock; PostgreSQL has no lock that the busy timeout answers.
    let Some(mut lock) = app.sqlite_file().await else {
        return;
    };
    sqlx::query("begin exclusive")
        .execute(&mut lock)
        .await
        .unwrap();
    let started = Instant::now();

    let login_page = async {
        let r = app.browser().get("/login").await;
        (r.status(), r.text().await.unwrap())
    };
    let sign_in = async {
        let form = [
            ("email", ADMIN_EMAIL),
            ("password", PASSWORD),
            ("csrf_token", token.as_str()),
        ];
        let r = anonymous.post_form("/login", &form, &[]).await;
        let ct = r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        (r.status(), ct, r.text().await.unwrap(), started.elapsed())
    };
    let account = async { signed_in.get("/account").await.status() };
    let projects = async { signed_in.get("/projects").await.status() };
    let api_write = async {
        let r = admin
            .api
            .create_flag(PROJECT, &serde_json::json!({"key": "api-locked-out"}))
            .await;
        (r.status(), r.text().await.unwrap())
    };
    let write = async {
        let form = [("key", "locked-out"), ("name", "L"), ("csrf_token", &csrf)];
        let r = signed_in.post_form("/projects", &form, &[]).await;
        (r.status(), r.text().await.unwrap())
    };
    let (login_page, sign_in, account, projects, write, api_write) =
        tokio::join!(login_page, sign_in, account, projects, write, api_write);

    // Reading needs no write: the login form and signed-in pages are served as usual.
    assert_eq!(login_page.0, StatusCode::OK, "{}", login_page.1);
    assert_eq!(account, StatusCode::OK);
    assert_eq!(projects, StatusCode::OK);
    // Signing in must store a session: it answers the API's "database busy" as a page.
    let (status, ct, html, took) = sign_in;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{html}");
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(html.contains(BUSY), "{html}");
    assert!(took < Duration::from_secs(8), "the answer took {took:?}");
    assert_eq!(write.0, StatusCode::SERVICE_UNAVAILABLE, "{}", write.1);
    assert!(write.1.contains(BUSY), "{}", write.1);
    // The API says the same, as JSON.
    assert_eq!(
        api_write.0,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        api_write.1
    );
    let body: serde_json::Value = serde_json::from_str(&api_write.1).unwrap();
    let said = body["message"].as_str().unwrap_or_default();
    assert!(BUSY.eq_ignore_ascii_case(&format!("{said}.")), "{body}");

    sqlx::query("rollback").execute(&mut lock).await.unwrap();
    assert!(!anonymous.is_signed_in().await);
    let r = anonymous
        .post_form(
            "/login",
            &[
                ("email", ADMIN_EMAIL),
                ("password", PASSWORD),
                ("csrf_token", token.as_str()),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(anonymous.is_signed_in().await);
}

// --- Item 12: logs cannot be forged (L13) -------------------------------------------------------

#[tokio::test]
async fn a_forged_email_writes_one_log_line_with_its_control_characters_escaped() {
    let app = TestApp::spawn().await;
    let forged = "mallory@example.com\n2031-01-01T00:00:00.000000Z  INFO switchyard: signed in \
                  user=admin@example.com\u{1b}[2K\r!";
    let b = app.browser();
    assert_eq!(
        sign_in_with(&b, forged, "a-wrong-guess-at-it", &[]).await,
        401
    );

    let deadline = Instant::now() + Duration::from_secs(5);
    let log = loop {
        let log = app.stderr();
        if log.contains("sign-in failed") || Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("mallory")).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains("sign-in failed"), "{log}");
    // (E-mails are lower-cased before they are logged.)
    assert!(lines[0].contains(r"\n2031-01-01t00:00:00"), "{log}");
    assert!(lines[0].contains(r"\u{1b}[2k\r"), "{log}");
    assert!(!log.lines().any(|l| l.starts_with("2031-01-01")), "{log}");
    // Not a terminal: no colour codes at all.
    assert!(!log.contains('\u{1b}'), "{log:?}");
    assert!(!log.contains('\r'), "{log:?}");
}

// --- Item 13: per-address throttle and proxies --------------------------------------------------

#[tokio::test]
async fn one_address_does_not_lock_out_every_account() {
    let app = TestApp::spawn().await;
    let b = app.browser();
    for i in 0..10 {
        let s = sign_in_with(&b, "someone@example.com", "a-wrong-guess", &[]).await;
        assert_eq!(s, 401, "attempt {}", i + 1);
    }
    assert_eq!(
        sign_in_with(&b, "someone@example.com", "a-wrong-guess", &[]).await,
        429
    );
    // The same address (an office NAT, a TLS proxy) still signs in to other accounts.
    assert_eq!(sign_in_with(&b, ADMIN_EMAIL, PASSWORD, &[]).await, 303);
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
    let app = TestApp::spawn_with_env(&[("SWITCHYARD_LOGIN_ATTEMPTS_PER_ADDRESS", "3")]).await;
    let b = app.browser();
    for i in 0..3 {
        let xff = format!("203.0.113.{i}");
        let email = format!("spray{i}@example.com");
        let s = sign_in_with(&b, &email, "a-wrong-guess", &[("X-Forwarded-For", &xff)]).await;
        assert_eq!(s, 401, "attempt {}", i + 1);
    }
    // A new X-Forwarded-For or Forwarded value does not make a new client: it is the peer's.
    let headers = [("X-Forwarded-For", "198.51.100.9")];
    assert_eq!(sign_in_with(&b, ADMIN_EMAIL, PASSWORD, &headers).await, 429);
    let headers = [("Forwarded", "for=198.51.100.10")];
    assert_eq!(sign_in_with(&b, ADMIN_EMAIL, PASSWORD, &headers).await, 429);
}

#[tokio::test]
async fn a_trusted_proxy_forwards_the_client_address() {
    let app = TestApp::spawn_with_env(&[
        ("SWITCHYARD_LOGIN_ATTEMPTS_PER_ADDRESS", "3"),
        ("SWITCHYARD_TRUSTED_PROXIES", "10.9.0.0/16,127.0.0.1"),
    ])
    .await;
    let b = app.browser();
    // The right-most address the proxy did not vouch for is the client; what the client put
    // in front of it (198.51.100.1) is not believed.
    let chains = [
        "203.0.113.7",
        "198.51.100.1, 203.0.113.7",
        "203.0.113.7, 10.9.4.4",
    ];
    for (i, xff) in chains.iter().enumerate() {
        let email = format!("spray{i}@example.com");
        let s = sign_in_with(&b, &email, "a-wrong-guess", &[("X-Forwarded-For", xff)]).await;
        assert_eq!(s, 401, "attempt {} via {xff}", i + 1);
    }
    let from_7 = [("X-Forwarded-For", "203.0.113.7")];
    assert_eq!(sign_in_with(&b, ADMIN_EMAIL, PASSWORD, &from_7).await, 429);
    let forwarded_7 = [("Forwarded", "for=\"203.0.113.7:4711\";proto=https")];
    assert_eq!(
        sign_in_with(&b, ADMIN_EMAIL, PASSWORD, &forwarded_7).await,
        429
    );

    // Another client behind the same proxy is counted apart, and so is the proxy itself.
    let from_8 = [("X-Forwarded-For", "203.0.113.8")];
    assert_eq!(sign_in_with(&b, ADMIN_EMAIL, PASSWORD, &from_8).await, 303);
    let other = app.browser();
    assert_eq!(sign_in_with(&other, ADMIN_EMAIL, PASSWORD, &[]).await, 303);
}

// --- Item 15: weak passwords are refused everywhere a password is set (D10) --------------------

const WEAK: &[&str] = &[
    "Password1!",
    "aaaaaaaa",
    "        ",
    "qwertyuiop",
    "12345678",
    "abcdefgh",
    "Switchyard2031!",
    "P@ssw0rd123",
];

async fn user_exists(app: &TestApp, email: &str) -> bool {
    let mut c = app.sql().await;
    let n: i64 = switchyard::db::query_scalar("select count(*) from users where email = ?")
        .bind(email)
        .fetch_one(&mut c)
        .await
        .unwrap();
    n > 0
}

#[tokio::test]
async fn weak_passwords_are_refused_on_the_command_line_and_in_the_admin_pages() {
    let app = TestApp::spawn().await;
    let admin = app.signed_in(ADMIN_EMAIL).await;
    let csrf = admin.csrf().await;
    let victim = app.user("viewer");
    let victim_id: i64 = {
        let mut c = app.sql().await;
        switchyard::db::query_scalar("select id from users where email = ?")
            .bind(&victim.email)
            .fetch_one(&mut c)
            .await
            .unwrap()
    };
    let weak_for_email = "weakling@example.com";
    let mut cases: Vec<&str> = WEAK.to_vec();
    cases.push("weakling@example.com");
    cases.push("Weakling2031");

    let before = app.fingerprint().await;
    for weak in &cases {
        let out = app.cli_with_stdin(
            &[
                "user",
                "create",
                "--email",
                weak_for_email,
                "--password-stdin",
            ],
            Some(weak),
        );
        assert!(!out.status.success(), "`user create` accepted {weak:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("password"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");

        let form = [
            ("email", weak_for_email),
            ("name", "Weakling"),
            ("password", weak),
            ("csrf_token", csrf.as_str()),
        ];
        let r = admin.post_form("/admin/users", &form, &[]).await;
        assert_eq!(
            r.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "create with {weak:?}"
        );

        // (The e-mail-based ones are weak only for their own user, not for the victim.)
        if WEAK.contains(weak) {
            let form = [("password", *weak), ("csrf_token", csrf.as_str())];
            let path = format!("/admin/users/{victim_id}/password");
            let r = admin.post_form(&path, &form, &[]).await;
            assert_eq!(
                r.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "reset to {weak:?}"
            );
        }
    }
    assert!(
        !user_exists(&app, weak_for_email).await,
        "a weak user was created"
    );
    assert_eq!(
        app.fingerprint().await,
        before,
        "a refused password changed something"
    );

    // The reason is given in words next to the field.
    let form = [
        ("email", weak_for_email),
        ("name", "Weakling"),
        ("password", "Password1!"),
        ("csrf_token", csrf.as_str()),
    ];
    let html = admin
        .post_form("/admin/users", &form, &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("commonly used password"), "{html}");
    let form = [("password", "aaaaaaaa"), ("csrf_token", csrf.as_str())];
    let path = format!("/admin/users/{victim_id}/password");
    let html = admin
        .post_form(&path, &form, &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("repeated"), "{html}");

    // The passwords people and tests use stay accepted.
    for good in ["quartz-lantern-meadow-49", "demo-password-2026", "kqzvbnwt"] {
        let email = format!("good-{}@example.com", good.len());
        let out = app.cli_with_stdin(
            &["user", "create", "--email", &email, "--password-stdin"],
            Some(good),
        );
        assert_success(&out, "user create with a good password");
    }
}

#[tokio::test]
async fn weak_passwords_are_refused_when_changing_ones_own() {
    let app = TestApp::spawn().await;
    let user = app.user("viewer");
    let b = app.signed_in(&user.email).await;
    let csrf = b.csrf().await;
    let local = user.email.split('@').next().unwrap().to_string();
    let own = format!("{local}-{local}");
    let mut cases: Vec<&str> = WEAK.to_vec();
    cases.push(&own);
    for weak in cases {
        let fields = [
            ("current", PASSWORD),
            ("new", weak),
            ("confirm", weak),
            ("csrf_token", csrf.as_str()),
        ];
        let r = b.post_form("/account/password", &fields, &[]).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{weak:?}");
    }
    // Still the old password: a new browser signs in with it.
    app.signed_in(&user.email).await;
}

#[tokio::test]
async fn a_weak_admin_password_from_the_environment_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sy.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["--database-url", &url, "serve", "--bind", "127.0.0.1:0"])
        .env("SWITCHYARD_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("SWITCHYARD_ADMIN_PASSWORD", "Password1!")
        .env("SWITCHYARD_LOG", "warn")
        .env_remove("SWITCHYARD_TEST_CLOCK_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server started with a weak admin password");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("SWITCHYARD_ADMIN_PASSWORD"), "{err}");
    assert!(err.contains("commonly used password"), "{err}");
}

#[tokio::test]
async fn the_setup_link_refuses_weak_passwords_and_works_once_under_parallel_use() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("sy.db").display());
    let fresh = serve_without_users(&url);
    let b = browser_at(&fresh.base);
    let token = b
        .csrf_from(&fresh.setup)
        .await
        .expect("the setup page has a token");
    for weak in WEAK {
        let form = [
            ("email", "first@example.com"),
            ("name", "First"),
            ("password", weak),
            ("csrf_token", token.as_str()),
        ];
        let r = b.post_form(&fresh.setup, &form, &[]).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{weak:?}");
    }

    // Twenty people use the link at once: one admin is created, the others are told it is gone.
    let mut people = Vec::new();
    for _ in 0..20 {
        let b = browser_at(&fresh.base);
        let token = b.csrf_from(&fresh.setup).await.unwrap();
        people.push((b, token));
    }
    let attempts = people.into_iter().enumerate().map(|(i, (b, token))| {
        let setup = fresh.setup.clone();
        async move {
            let email = format!("first{i}@example.com");
            let form = [
                ("email", email.as_str()),
                ("name", "First"),
                ("password", PASSWORD),
                ("csrf_token", token.as_str()),
            ];
            b.post_form(&setup, &form, &[]).await.status().as_u16()
        }
    });
    let statuses = join_all(attempts).await;
    assert_eq!(count(&statuses, 303), 1, "{statuses:?}");
    assert_eq!(count(&statuses, 404) + 1, 20, "{statuses:?}");
}
