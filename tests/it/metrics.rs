//! `/metrics` as an operator reads it (issue 10, item 4): after some traffic, the families an
//! operator graphs and alerts on are there, in valid Prometheus text, with the values the
//! traffic implies; labels never carry a flag key or a token.

use crate::support::prometheus::Scrape;
use crate::support::stream::EventStream;
use crate::support::{TestApp, PROJECT};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn scrape(app: &TestApp) -> (Scrape, String) {
    let r = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = r.text().await.unwrap();
    let parsed = Scrape::parse(&text);
    for s in &parsed.samples {
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|x| s.name.strip_suffix(x))
            .filter(|base| parsed.types.contains_key(*base))
            .unwrap_or(&s.name);
        assert!(parsed.types.contains_key(family), "{} has no TYPE", s.name);
    }
    (parsed, text)
}

/// Scrapes until `ok` holds (background work lands within a second or two).
async fn scrape_until(app: &TestApp, what: &str, ok: impl Fn(&Scrape) -> bool) -> Scrape {
    let start = Instant::now();
    loop {
        let (s, text) = scrape(app).await;
        if ok(&s) {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{what} never showed in /metrics:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn responses(s: &Scrape, family: &str, class: &str) -> f64 {
    s.get(
        "switchyard_http_responses_total",
        &[("family", family), ("class", class)],
    )
}

fn posts(s: &Scrape, api: &str, kind: &str, outcome: &str) -> f64 {
    s.get(
        "switchyard_sdk_posts_total",
        &[("api", api), ("kind", kind), ("outcome", outcome)],
    )
}

const DEV: [(&str, &str); 2] = [("project", PROJECT), ("environment", "development")];

async fn post(url: String, token: &str, body: &str) -> StatusCode {
    reqwest::Client::new()
        .post(url)
        .header("Authorization", token)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_scrape_after_traffic_shows_what_an_operator_alerts_on() {
    // A webhook target that refuses connections, retried only after a minute.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let allow = format!("127.0.0.1:{}", dead.port());
    let app = TestApp::spawn_with_env(&[
        ("SWITCHYARD_WEBHOOK_ALLOW_HOSTS", &allow),
        ("SWITCHYARD_WEBHOOK_BACKOFF_MS", "60000"),
    ])
    .await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    let client = crate::feed::ready_token(&app, "development").await;
    let frontend = app.feed_token("frontend", PROJECT, "development");
    crate::feed::wait_for("the frontend token", || async {
        let r = reqwest::Client::new()
            .get(app.url("/api/frontend"))
            .header("Authorization", &frontend)
            .send()
            .await
            .unwrap();
        r.status() == 200
    })
    .await;
    let etag = {
        let r = reqwest::Client::new()
            .get(app.url("/api/client/features"))
            .header("Authorization", &client)
            .send()
            .await
            .unwrap();
        r.headers()["etag"].to_str().unwrap().to_string()
    };
    let (before, _) = scrape(&app).await;
    let revision_before = before.get("switchyard_feed_snapshot_revision", &DEV);
    let rebuilds_before = before.get("switchyard_feed_rebuild_duration_seconds_count", &[]);

    // Client API: three answers, a 304 from the fast lane, two unknown tokens.
    let http = reqwest::Client::new();
    let features = |token: &str| {
        http.get(app.url("/api/client/features"))
            .header("Authorization", token.to_string())
    };
    for _ in 0..3 {
        assert_eq!(features(&client).send().await.unwrap().status(), 200);
    }
    let unchanged = features(&client).header("If-None-Match", &etag);
    assert_eq!(unchanged.send().await.unwrap().status(), 304);
    for _ in 0..2 {
        assert_eq!(features("nope").send().await.unwrap().status(), 401);
    }
    // Reports: accepted, unreadable, unauthorised; a browser SDK's registration.
    let report = r#"{"appName": "shop", "instanceId": "i-1"}"#;
    let client_url = |p: &str| app.url(&format!("/api/client/{p}"));
    assert_eq!(post(client_url("register"), &client, report).await, 202);
    assert_eq!(post(client_url("metrics"), &client, report).await, 202);
    assert_eq!(post(client_url("metrics"), &client, "not json").await, 400);
    assert_eq!(post(client_url("metrics"), "nope", report).await, 401);
    let frontend_register = app.url("/api/frontend/client/register");
    assert_eq!(post(frontend_register, &frontend, report).await, 200);
    let ofrep = app.url("/ofrep/v1/evaluate/flags/checkout");
    assert_eq!(post(ofrep, &client, r#"{"context": {}}"#).await, 200);
    let streams = [
        EventStream::open(&app.base, &client).await,
        EventStream::open(&app.base, &client).await,
    ];
    assert_eq!(reqwest::get(app.url("/login")).await.unwrap().status(), 200);
    // A change: the development snapshot is rebuilt.
    let r = admin
        .api
        .toggle(PROJECT, "checkout", "development", true)
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    // A change request waiting for review, and its webhook failing.
    let hook =
        json!({"url": format!("http://{dead}/hook"), "events": ["change-request.submitted"]});
    let r = admin.api.add_webhook(PROJECT, &hook).await;
    assert_eq!(r.status(), 201);
    let editor = app.user("editor");
    let r = editor
        .api
        .toggle(PROJECT, "checkout", "production", true)
        .await;
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["changeRequest"]["id"]
        .as_i64()
        .unwrap();
    let submit = json!({"title": "Checkout", "reason": "ready"});
    let r = editor
        .api
        .change_request_step(id, "submit", Some(&submit))
        .await;
    assert_eq!(r.status(), 200);

    let after = scrape_until(&app, "the failed delivery", |s| {
        s.get(
            "switchyard_webhook_delivery_attempts_total",
            &[("result", "retrying")],
        ) >= 1.0
    })
    .await;
    let delta = |f: &dyn Fn(&Scrape) -> f64| f(&after) - f(&before);
    assert_eq!(delta(&|s| responses(s, "client", "2xx")), 5.0);
    assert_eq!(delta(&|s| responses(s, "client", "3xx")), 1.0);
    assert_eq!(delta(&|s| responses(s, "client", "4xx")), 4.0);
    assert_eq!(delta(&|s| responses(s, "frontend", "2xx")), 1.0);
    assert_eq!(delta(&|s| responses(s, "ofrep", "2xx")), 1.0);
    assert_eq!(delta(&|s| responses(s, "streaming", "2xx")), 2.0);
    assert!(delta(&|s| responses(s, "web", "2xx")) >= 1.0);
    assert!(delta(&|s| responses(s, "admin_api", "2xx")) >= 3.0);
    assert!(delta(&|s| responses(s, "probes", "2xx")) >= 1.0);
    assert_eq!(responses(&after, "client", "5xx"), 0.0);

    assert_eq!(
        delta(&|s| posts(s, "client", "registration", "accepted")),
        1.0
    );
    assert_eq!(delta(&|s| posts(s, "client", "metrics", "accepted")), 1.0);
    assert_eq!(delta(&|s| posts(s, "client", "metrics", "invalid")), 1.0);
    assert_eq!(
        delta(&|s| posts(s, "client", "metrics", "unauthorized")),
        1.0
    );
    assert_eq!(
        delta(&|s| posts(s, "frontend", "registration", "accepted")),
        1.0
    );
    assert_eq!(after.get("switchyard_feed_streams_open", &[]), 2.0);

    // The feed: every environment of the project, the changed one with a new revision.
    let envs = after.label_values("switchyard_feed_snapshot_revision", "environment");
    for env in ["development", "staging", "production"] {
        assert!(envs.contains(env), "{envs:?}");
    }
    assert_ne!(
        after.get("switchyard_feed_snapshot_revision", &DEV),
        revision_before
    );
    assert!(after.get("switchyard_feed_snapshot_age_seconds", &DEV) >= 0.0);
    assert!(after.get("switchyard_feed_rebuild_duration_seconds_count", &[]) > rebuilds_before);
    assert_eq!(after.get("switchyard_feed_loaded", &[]), 1.0);
    assert!(after.get("switchyard_feed_refresh_age_seconds", &[]) >= 0.0);

    // What waits: one change request in review, one delivery retrying.
    let waiting = |state: &str| after.get("switchyard_change_requests_open", &[("state", state)]);
    assert_eq!(waiting("in-review"), 1.0);
    assert_eq!(waiting("approved"), 0.0);
    assert_eq!(after.get("switchyard_webhook_outbox_pending", &[]), 1.0);
    assert_eq!(after.get("switchyard_webhook_outbox_retrying", &[]), 1.0);

    // The database and the pool.
    assert_eq!(after.get("switchyard_database_up", &[]), 1.0);
    let max = after.get("switchyard_database_pool_max_connections", &[]);
    let pool = |state: &str| after.get("switchyard_database_pool_connections", &[("state", state)]);
    assert!(max >= 1.0 && pool("idle") + pool("in_use") <= max);

    // The feed catches up with the audit log.
    scrape_until(&app, "the feed built up to the audit head", |s| {
        s.value("switchyard_feed_audit_seq", &[]) == s.value("switchyard_audit_head_seq", &[])
    })
    .await;

    // Streams closed by their clients leave the gauge.
    drop(streams);
    scrape_until(&app, "the closed streams", |s| {
        s.get("switchyard_feed_streams_open", &[]) == 0.0
    })
    .await;

    // Bounded labels: no flag key and no token anywhere in the text.
    let (_, text) = scrape(&app).await;
    for secret in ["checkout", client.as_str(), frontend.as_str()] {
        assert!(!text.contains(secret), "{secret:?} is in /metrics");
    }
}
