//! Issue 11, items 9, 10, 14, 16 and 18: webhooks refuse internal targets, public metrics are
//! bounded, keys are unambiguous, the audit head can be pinned, and malformed import files are
//! refused (reliability plan L8, L9, L11, L14).

use crate::support::{cli_on, connect, on_postgres, Api, TestApp, PROJECT};
use axum::extract::State;
use axum::Router;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

// ---------- 18. Import files of the wrong shape ----------

fn import_unleash(app: &TestApp, name: &str, text: &str) -> std::process::Output {
    let file = app.dir().join(name);
    std::fs::write(&file, text).unwrap();
    app.import_unleash(PROJECT, "development", &file)
}

#[tokio::test]
async fn unleash_import_without_a_features_array_is_refused_with_exit_2() {
    let app = TestApp::spawn().await;
    let before = app.audit_count().await;
    for (text, says) in [
        (r#"{"version": 1}"#, "no \"features\" array"),
        (r#"{}"#, "no \"features\" array"),
        (
            r#"{"version": 1, "features": {}}"#,
            "\"features\" is not an array",
        ),
        (
            r#"{"features": "checkout"}"#,
            "\"features\" is not an array",
        ),
        (r#"{"features": null}"#, "\"features\" is not an array"),
        (r#"[]"#, "not a JSON object"),
        (r#""features""#, "not a JSON object"),
        (r#"{"features": [1]}"#, "feature 1 is not an object"),
        (
            r#"{"features": [{"enabled": true}]}"#,
            "feature 1 has no name",
        ),
        (
            r#"{"features": [], "segments": {}}"#,
            "\"segments\" is not an array",
        ),
        (r#"{"events": {}}"#, "\"events\" is not an array"),
    ] {
        let out = import_unleash(&app, "bad.json", text);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.contains(says), "{text}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{text}: {stderr}");
    }
    assert_eq!(app.audit_count().await, before, "a refused import wrote");

    // An explicit empty list is a valid (empty) state; a real one still imports.
    let out = import_unleash(&app, "empty.json", r#"{"version": 1, "features": []}"#);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = import_unleash(
        &app,
        "one.json",
        r#"{"version": 1, "features": [{"name": "imported", "enabled": true}]}"#,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 flags created"));
}

// ---------- 9. Webhooks refuse internal targets ----------

/// A loopback endpoint that counts what reaches it.
async fn counting_receiver() -> (Arc<AtomicUsize>, u16) {
    let hits = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .fallback(|State(hits): State<Arc<AtomicUsize>>| async move {
            hits.fetch_add(1, Ordering::SeqCst);
            "ok"
        })
        .with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (hits, port)
}

/// A port that accepts connections and never answers.
async fn silent_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    port
}

/// A port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// This machine's host name when it resolves to loopback only (it does through /etc/hosts on
/// Debian-style machines): a name, not a literal, that the resolver must catch.
async fn name_resolving_to_loopback() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim().to_string();
    let addrs: Vec<_> = tokio::net::lookup_host((name.as_str(), 80))
        .await
        .ok()?
        .collect();
    (!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())).then_some(name)
}

async fn add_webhook(api: &Api, url: &str) -> (StatusCode, Value) {
    let r = api.add_webhook(PROJECT, &json!({ "url": url })).await;
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn deliveries(api: &Api, hook: i64) -> Vec<Value> {
    let r = api
        .get(&format!(
            "/api/admin/projects/{PROJECT}/webhooks/{hook}/deliveries"
        ))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    body["deliveries"].as_array().unwrap().clone()
}

/// Waits until the webhook's first delivery has been tried once, and returns it.
async fn first_attempt(api: &Api, hook: i64) -> Value {
    let start = Instant::now();
    loop {
        if let Some(d) = deliveries(api, hook).await.pop() {
            if d["attempts"].as_i64().unwrap() >= 1 {
                return d;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "webhook {hook} was never tried"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Kills a new flag in development: an event every webhook of the project hears.
async fn announce_a_kill(app: &TestApp, key: &str) {
    let admin = app.admin().api;
    admin.new_flag(PROJECT, key).await;
    admin.toggle(PROJECT, key, "development", true).await;
    let r = admin
        .kill(PROJECT, key, "development", &json!({"reason": "test"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn webhooks_refuse_internal_targets_at_creation_with_the_reason() {
    let (hits, port) = counting_receiver().await;
    let app = TestApp::spawn().await;
    let owner = app.user("owner");
    let before = app.audit_count().await;
    let mut cases = vec![
        (format!("http://127.0.0.1:{port}/x"), "loopback"),
        (format!("http://0.0.0.0:{port}/x"), "unspecified"),
        (format!("http://2130706433:{port}/x"), "loopback"),
        (format!("http://0x7f000001:{port}/x"), "loopback"),
        (format!("http://0177.0.0.1:{port}/x"), "loopback"),
        (format!("http://127.1:{port}/x"), "loopback"),
        (format!("http://localhost:{port}/x"), "loopback"),
        (format!("http://LocalHost.:{port}/x"), "loopback"),
        (format!("http://[::1]:{port}/x"), "loopback"),
        (format!("http://[::ffff:127.0.0.1]:{port}/x"), "loopback"),
        ("http://10.0.0.1/x".into(), "private"),
        ("http://172.16.5.4/x".into(), "private"),
        ("https://192.168.1.1/x".into(), "private"),
        ("http://[fd12:3456::1]/x".into(), "private"),
        (
            "http://169.254.169.254/latest/meta-data".into(),
            "link-local",
        ),
        ("http://[fe80::1]/x".into(), "link-local"),
        ("http://[::]/x".into(), "unspecified"),
    ];
    if let Some(name) = name_resolving_to_loopback().await {
        cases.push((
            format!("http://{name}:{port}/x"),
            "resolves to an internal address",
        ));
    }
    for (url, says) in &cases {
        let (status, body) = add_webhook(&owner.api, url).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        let message = body.to_string();
        assert!(message.contains(says), "{url}: {message}");
        assert!(
            message.contains("--webhook-allow-hosts"),
            "{url}: {message}"
        );
    }
    // The settings page says the same by the field.
    let b = app.signed_in(&owner.email).await;
    let csrf = b.csrf().await;
    let url = format!("http://127.0.0.1:{port}/x");
    let r = b
        .post_form(
            &format!("/projects/{PROJECT}/settings/webhooks"),
            &[("url", &url), ("format", "generic"), ("csrf_token", &csrf)],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("a loopback address, which webhooks may not reach"),
        "{html}"
    );

    let list: Value = owner
        .api
        .get(&format!("/api/admin/projects/{PROJECT}/webhooks"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["webhooks"], json!([]), "nothing was created");
    assert_eq!(app.audit_count().await, before, "nothing was audited");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing was contacted");
}

#[tokio::test]
async fn webhook_targets_are_checked_again_at_delivery_on_the_resolved_address() {
    let (hits, port) = counting_receiver().await;
    let app = TestApp::spawn().await;
    // Rows as a webhook made before this check (or whose name changed its address since)
    // would leave them: the deliverer must not trust the stored URL.
    let mut urls = vec![
        format!("http://127.0.0.1:{port}/literal"),
        format!("http://localhost:{port}/name"),
        format!("http://[::ffff:127.0.0.1]:{port}/mapped"),
    ];
    if let Some(name) = name_resolving_to_loopback().await {
        urls.push(format!("http://{name}:{port}/resolved"));
    }
    let mut ids = Vec::new();
    {
        let mut c = app.sql().await;
        let project: i64 = switchyard::db::query_scalar("select id from projects where key = ?")
            .bind(PROJECT)
            .fetch_one(&mut c)
            .await
            .unwrap();
        for url in &urls {
            let id: i64 = switchyard::db::query_scalar(
                "insert into webhooks (project_id, url, format, events, created_by, created_at) \
                 values (?, ?, 'generic', '', 'test', '2020-01-01T00:00:00.000Z') returning id",
            )
            .bind(project)
            .bind(url)
            .fetch_one(&mut c)
            .await
            .unwrap();
            ids.push(id);
        }
    }
    announce_a_kill(&app, "rebound").await;
    let admin = app.admin().api;
    for (id, url) in ids.iter().zip(&urls) {
        let d = first_attempt(&admin, *id).await;
        let error = d["lastError"].as_str().unwrap_or_default();
        assert!(error.contains("which webhooks may not reach"), "{url}: {d}");
        assert_ne!(d["status"], "delivered", "{url}: {d}");
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "an internal target was contacted"
    );
}

#[tokio::test]
async fn listed_hosts_are_allowed_and_delivery_errors_do_not_tell_which_ports_answer() {
    let (hits, open) = counting_receiver().await;
    let (closed, silent) = (closed_port(), silent_port().await);
    let allow = format!("127.0.0.1:{open}, 127.0.0.1:{closed},127.0.0.1:{silent}");
    let app = TestApp::spawn_with_env(&[
        ("SWITCHYARD_WEBHOOK_ALLOW_HOSTS", &allow),
        // One attempt each within the test.
        ("SWITCHYARD_WEBHOOK_BACKOFF_MS", "600000"),
    ])
    .await;
    let owner = app.user("owner");
    let mut made = Vec::new();
    for port in [open, closed, silent] {
        let (status, body) = add_webhook(&owner.api, &format!("http://127.0.0.1:{port}/h")).await;
        assert_eq!(status, StatusCode::CREATED, "{port}: {body}");
        made.push(body["webhook"]["id"].as_i64().unwrap());
    }
    // Only what is listed: another port of the host, or the host under another name, is not.
    for url in [
        format!("http://127.0.0.1:{}/h", closed_port()),
        format!("http://localhost:{open}/h"),
    ] {
        let (status, body) = add_webhook(&owner.api, &url).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
    }

    announce_a_kill(&app, "allowed").await;
    let admin = app.admin().api;
    let delivered = first_attempt(&admin, made[0]).await;
    assert_eq!(delivered["status"], "delivered", "{delivered}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // A closed port and a port that never answers read the same: nothing tells them apart.
    let refused = first_attempt(&admin, made[1]).await;
    let timed_out = first_attempt(&admin, made[2]).await;
    assert_eq!(
        refused["lastError"], timed_out["lastError"],
        "{refused} / {timed_out}"
    );
    assert_eq!(refused["status"], timed_out["status"]);
    let shown = refused["lastError"].as_str().unwrap();
    for detail in [
        "os error",
        "127.0.0.1",
        "tcp",
        "error sending",
        &closed.to_string(),
    ] {
        assert!(!shown.contains(detail), "{shown:?} tells {detail:?}");
    }
    let page = app
        .signed_in(&owner.email)
        .await
        .get(&format!(
            "/projects/{PROJECT}/settings/webhooks/{}",
            made[1]
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("os error") && !page.contains("Connection refused"),
        "{page}"
    );
}

// ---------- 10. Public metrics are bounded ----------

async fn post_metrics(app: &TestApp, path: &str, token: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url(path))
        .header("Authorization", token)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn bucket(start: &str, toggles: Value) -> Value {
    json!({"appName": "browser", "instanceId": "tab-1",
        "bucket": {"start": start, "stop": start, "toggles": toggles}})
}

async fn usage_rows(app: &TestApp) -> Vec<(String, String, i64, i64)> {
    let mut c = app.sql().await;
    switchyard::db::query_as("select flag_key, hour, yes, no from usage_hourly order by flag_key")
        .fetch_all(&mut c)
        .await
        .unwrap()
}

#[tokio::test]
async fn public_metrics_are_bounded() {
    let app = TestApp::spawn_with_env(&[("SWITCHYARD_METRICS_POSTS_PER_MINUTE", "20")]).await;
    let admin = app.admin().api;
    admin.new_flag(PROJECT, "known-a").await;
    admin.new_flag(PROJECT, "known-b").await;
    let frontend = app.feed_token("frontend", PROJECT, "development");
    let client = app.feed_token("client", PROJECT, "development");
    let path = "/api/frontend/client/metrics";
    // The token index and the snapshot load in the background.
    let start = Instant::now();
    while post_metrics(&app, path, &frontend, &bucket(&now(), json!({})))
        .await
        .status()
        != StatusCode::OK
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the token never worked"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 5 posts naming 5,000 invented flags each, beside the two real ones: accepted as the SDK
    // contract asks, but only the real flags are counted.
    for round in 0..5 {
        let mut toggles = serde_json::Map::new();
        for i in 0..5_000 {
            toggles.insert(format!("invented-{round}-{i}"), json!({"yes": 1, "no": 0}));
        }
        toggles.insert("known-a".into(), json!({"yes": 2, "no": 1}));
        toggles.insert("known-b".into(), json!({"yes": 0, "no": 1}));
        let r = post_metrics(
            &app,
            path,
            &frontend,
            &bucket(&now(), Value::Object(toggles)),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK, "round {round}");
    }
    // The client API drops unknown flags the same way, with Unleash's 202.
    let r = post_metrics(
        &app,
        "/api/client/metrics",
        &client,
        &bucket(
            &now(),
            json!({"not-a-flag": {"yes": 5, "no": 5}, "known-a": {"yes": 1, "no": 0}}),
        ),
    )
    .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    // Hours far from now and absurd counts are refused whole, with a reason.
    for (body, says) in [
        (
            bucket(
                "1000-01-01T00:00:00Z",
                json!({"known-a": {"yes": 1, "no": 0}}),
            ),
            "hour",
        ),
        (
            bucket(
                "2999-01-01T00:00:00Z",
                json!({"known-a": {"yes": 1, "no": 0}}),
            ),
            "hour",
        ),
        (
            bucket(
                &now(),
                json!({"known-a": {"yes": 1_000_000_000_000_i64, "no": 0}}),
            ),
            "count",
        ),
        (
            bucket(&now(), json!({"known-a": {"yes": -5, "no": 0}})),
            "count",
        ),
        (
            bucket(
                &now(),
                json!({"known-a": {"yes": 1, "no": 0, "variants": {"v": 1_000_000_000_000_i64}}}),
            ),
            "count",
        ),
    ] {
        let r = post_metrics(&app, path, &frontend, &body).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        let text = r.text().await.unwrap();
        assert!(text.contains(says), "{text}");
    }

    // Rows grow by the known flags only, with the counts of the accepted posts.
    let start = Instant::now();
    let rows = loop {
        let rows = usage_rows(&app).await;
        if rows.iter().any(|r| r.0 == "known-a" && r.2 == 11) {
            break rows;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{rows:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let flags: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(flags, ["known-a", "known-b"], "{rows:?}");
    assert_eq!((rows[0].2, rows[0].3), (11, 5));
    assert_eq!((rows[1].2, rows[1].3), (0, 5));

    // A flood from one token is cut off with 429 and Retry-After; another token is not.
    let mut limited = None;
    for _ in 0..40 {
        let r = post_metrics(&app, path, &frontend, &bucket(&now(), json!({}))).await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = limited.expect("40 posts in a row were never limited");
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let text = r.text().await.unwrap();
    assert!(text.contains("too many"), "{text}");
    let r = post_metrics(
        &app,
        "/api/client/metrics",
        &client,
        &bucket(&now(), json!({})),
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::ACCEPTED,
        "another token has its own allowance"
    );
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

// ---------- 16. Pinning the audit head ----------

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// A consistent copy of the app's database, with the append-only triggers dropped.
async fn tamperable_copy(app: &TestApp, name: &str) -> (sqlx::SqliteConnection, String) {
    let path = app.dir().join(name);
    let mut c = app.sqlite_file().await.expect("a SQLite file to copy");
    sqlx::query(&format!("vacuum into '{}'", path.display()))
        .execute(&mut c)
        .await
        .unwrap();
    let mut copy = connect(&path).await;
    for t in ["audit_log_no_update", "audit_log_no_delete"] {
        sqlx::query(&format!("drop trigger {t}"))
            .execute(&mut copy)
            .await
            .unwrap();
    }
    (copy, format!("sqlite://{}", path.display()))
}

/// The hash `src/audit/chain.rs` documents, recomputed independently.
fn entry_hash(prev: &str, row: &sqlx::sqlite::SqliteRow) -> String {
    use sha2::Digest;
    use sqlx::Row;
    let canonical = json!([
        row.get::<i64, _>("seq"),
        row.get::<String, _>("at"),
        row.get::<String, _>("actor_kind"),
        row.get::<Option<i64>, _>("actor_id"),
        row.get::<String, _>("actor_label"),
        row.get::<String, _>("action"),
        row.get::<Option<String>, _>("project_key"),
        row.get::<Option<String>, _>("flag_key"),
        row.get::<Option<String>, _>("environment_key"),
        row.get::<String, _>("target"),
        row.get::<Option<String>, _>("before_json"),
        row.get::<Option<String>, _>("after_json"),
        row.get::<Option<String>, _>("reason"),
        row.get::<Option<String>, _>("request_id"),
    ]);
    let mut h = sha2::Sha256::new();
    h.update(format!("{prev}\n{canonical}").as_bytes());
    hex::encode(h.finalize())
}

#[tokio::test]
async fn audit_tail_truncation_is_caught() {
    let app = TestApp::spawn().await;
    let admin = app.admin().api;
    for i in 0..3 {
        admin.new_flag(PROJECT, &format!("pinned-{i}")).await;
    }
    let out = app.cli(&["audit", "head"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let head = stdout(&out);
    let (seq, hash) = head.split_once(':').expect("SEQ:HASH");
    let seq: i64 = seq.parse().unwrap();
    assert_eq!(seq, app.audit_count().await);
    assert_eq!(hash.len(), 64, "{head}");

    // The intact log contains the head, given as SEQ:HASH or as the hash alone.
    for pin in [head.as_str(), hash] {
        let out = app.cli(&["audit", "verify", "--expect-head", pin]);
        assert!(out.status.success(), "{pin}: {}", stderr(&out));
    }

    // Tail truncated: the chain that is left is intact, so only the pin notices. Tampering works
    // on a copy of the SQLite file; on PostgreSQL what is above is what runs.
    if on_postgres() {
        return;
    }
    let (mut copy, truncated) = tamperable_copy(&app, "truncated.db").await;
    sqlx::query("delete from audit_log where seq = ?")
        .bind(seq)
        .execute(&mut copy)
        .await
        .unwrap();
    assert!(cli_on(&truncated, &["audit", "verify"], None)
        .status
        .success());
    let out = cli_on(
        &truncated,
        &["audit", "verify", "--expect-head", &head],
        None,
    );
    assert!(!out.status.success(), "truncation went unnoticed");
    assert!(
        stderr(&out).contains(&format!("head {seq}:{hash}")),
        "{}",
        stderr(&out)
    );
    let out = cli_on(
        &truncated,
        &["audit", "verify", "--expect-head", hash],
        None,
    );
    assert!(
        !out.status.success() && stderr(&out).contains(hash),
        "{}",
        stderr(&out)
    );

    // The last entry rewritten and its hash recomputed: a consistent chain, another head.
    let (mut copy, rewritten) = tamperable_copy(&app, "rewritten.db").await;
    sqlx::query("update audit_log set actor_label = 'someone-else' where seq = ?")
        .bind(seq)
        .execute(&mut copy)
        .await
        .unwrap();
    let row = sqlx::query("select * from audit_log where seq = ?")
        .bind(seq)
        .fetch_one(&mut copy)
        .await
        .unwrap();
    let prev: String = sqlx::Row::get(&row, "prev_hash");
    sqlx::query("update audit_log set hash = ? where seq = ?")
        .bind(entry_hash(&prev, &row))
        .bind(seq)
        .execute(&mut copy)
        .await
        .unwrap();
    assert!(cli_on(&rewritten, &["audit", "verify"], None)
        .status
        .success());
    let out = cli_on(
        &rewritten,
        &["audit", "verify", "--expect-head", &head],
        None,
    );
    assert!(!out.status.success(), "a recomputed rewrite went unnoticed");
    assert!(
        stderr(&out).contains(&format!("entry {seq}")),
        "{}",
        stderr(&out)
    );

    // A pin that is not a hash is refused with a reason.
    let out = app.cli(&["audit", "verify", "--expect-head", "12:nothex"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[tokio::test]
async fn the_audit_head_is_published_in_metrics_webhooks_and_a_checkpoint_file() {
    let (bodies, port) = recording_receiver().await;
    let checkpoint = tempfile::NamedTempFile::new().unwrap();
    let path = checkpoint.path().display().to_string();
    let allow = format!("127.0.0.1:{port}");
    let app = TestApp::spawn_with_env(&[
        ("SWITCHYARD_AUDIT_CHECKPOINT", &path),
        ("SWITCHYARD_WEBHOOK_ALLOW_HOSTS", &allow),
    ])
    .await;
    let owner = app.user("owner");
    let (status, _) = add_webhook(&owner.api, &format!("http://127.0.0.1:{port}/h")).await;
    assert_eq!(status, StatusCode::CREATED);
    announce_a_kill(&app, "published").await;
    let head = stdout(&app.cli(&["audit", "head"]));
    let (seq, hash) = head.split_once(':').unwrap();

    // The webhook body carries the head as of its event (the kill was the last change).
    let start = Instant::now();
    let body = loop {
        if let Some(b) = bodies.lock().unwrap().first().cloned() {
            break b;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "nothing delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        body["auditHead"]["seq"],
        seq.parse::<i64>().unwrap(),
        "{body}"
    );
    assert_eq!(body["auditHead"]["hash"], hash, "{body}");

    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!("\nswitchyard_audit_head_seq {seq}\n")),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!("switchyard_audit_head_info{{hash=\"{hash}\"}} 1")),
        "{metrics}"
    );

    // The checkpoint file catches up within a few seconds, outside the database.
    let start = Instant::now();
    let line = format!("{seq} {hash}");
    loop {
        let text = std::fs::read_to_string(&path).unwrap();
        if text.lines().any(|l| l == line) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{text:?} lacks {line}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = app.cli(&["audit", "verify", "--checkpoint", &path]);
    assert!(out.status.success(), "{}", stderr(&out));
    if on_postgres() {
        return; // tampering works on a copy of the SQLite file
    }
    let (mut copy, truncated) = tamperable_copy(&app, "cut.db").await;
    sqlx::query("delete from audit_log where seq = ?")
        .bind(seq.parse::<i64>().unwrap())
        .execute(&mut copy)
        .await
        .unwrap();
    let out = cli_on(
        &truncated,
        &["audit", "verify", "--checkpoint", &path],
        None,
    );
    assert!(!out.status.success(), "truncation went unnoticed");
    assert!(stderr(&out).contains(&head), "{}", stderr(&out));
}

/// A loopback endpoint that keeps the JSON bodies it is sent.
async fn recording_receiver() -> (Arc<std::sync::Mutex<Vec<Value>>>, u16) {
    let bodies: Arc<std::sync::Mutex<Vec<Value>>> = Arc::default();
    let app = Router::new()
        .fallback(
            |State(b): State<Arc<std::sync::Mutex<Vec<Value>>>>, body: axum::body::Bytes| async move {
                b.lock().unwrap().push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                "ok"
            },
        )
        .with_state(bodies.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (bodies, port)
}

// ---------- 14. Keys are unambiguous ----------

#[tokio::test]
async fn keys_are_unambiguous() {
    let app = TestApp::spawn().await;
    let api = app.admin().api;
    let before = app.audit_count().await;
    for (key, code) in [
        ("abc\u{202e}gnp.exe", "U+202E"),
        ("a\u{200b}one", "U+200B"),
        ("a\u{2060}one", "U+2060"),
        ("\u{feff}one", "U+FEFF"),
        ("a\u{061c}one", "U+061C"),
        ("a\u{00ad}one", "U+00AD"),
        ("one\u{2066}", "U+2066"),
        ("a\u{180e}one", "U+180E"),
    ] {
        let r = api.create_flag(PROJECT, &json!({ "key": key })).await;
        let status = r.status();
        let body = r.text().await.unwrap();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{key:?}: {body}");
        assert!(
            body.contains(code) && body.contains("invisible"),
            "{key:?}: {body}"
        );
    }
    assert_eq!(app.audit_count().await, before);

    api.new_flag(PROJECT, "a-one").await;
    // Cyrillic а (U+0430) beside Latin a: a different key that reads the same.
    let r = api
        .create_flag(PROJECT, &json!({ "key": "\u{0430}-one" }))
        .await;
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = serde_json::from_str::<Value>(&body).unwrap()["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("looks like the existing flag \"a-one\""),
        "{message}"
    );
    // Non-Latin keys that are not look-alikes stay welcome.
    api.new_flag(PROJECT, "\u{0444}\u{0438}\u{0447}\u{0430}")
        .await;
    api.new_flag(PROJECT, "a-two").await;
}
