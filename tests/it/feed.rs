//! The feed as SDKs use it: ETags, gzip, narrowing, the change stream, reports and token scope.

use crate::support::{TestApp, PROJECT};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub(crate) async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn features(app: &TestApp, token: &str, query: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .no_gzip()
        .build()
        .unwrap()
        .get(app.url(&format!("/api/client/features{query}")))
        .header("Authorization", token)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn ready_token(app: &TestApp, env: &str) -> String {
    let token = app.feed_token("client", PROJECT, env);
    wait_for("the new token", || {
        let token = token.clone();
        async move { features(app, &token, "").await.status() == 200 }
    })
    .await;
    token
}

fn names(body: &Value) -> Vec<String> {
    body["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_change_reaches_the_client_api_with_a_new_etag_and_only_in_its_environment() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin
        .api
        .create_flag(PROJECT, &json!({"key": "checkout", "tags": ["pay"]}))
        .await;
    admin
        .api
        .create_flag(PROJECT, &json!({"key": "search"}))
        .await;
    let dev = ready_token(&app, "development").await;
    let prod = ready_token(&app, "production").await;

    let first = features(&app, &dev, "").await;
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["features"][0]["enabled"], false);

    let unchanged = reqwest::Client::new()
        .get(app.url("/api/client/features"))
        .header("Authorization", &dev)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);

    admin
        .api
        .toggle(PROJECT, "checkout", "development", true)
        .await;
    wait_for("the change in development", || async {
        let r = features(&app, &dev, "").await;
        r.headers()["etag"].to_str().unwrap() != etag
    })
    .await;
    let body: Value = features(&app, &dev, "").await.json().await.unwrap();
    let checkout = body["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "checkout")
        .unwrap();
    assert_eq!(checkout["enabled"], true);
    let prod_body: Value = features(&app, &prod, "").await.json().await.unwrap();
    assert!(prod_body["features"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["enabled"] == false));

    let narrowed: Value = features(&app, &dev, "?namePrefix=chec")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(&narrowed), ["checkout"]);
    let tagged: Value = features(&app, &dev, "?tag=simple:pay")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(&tagged), ["checkout"]);
    let other_project: Value = features(&app, &dev, "?project=elsewhere")
        .await
        .json()
        .await
        .unwrap();
    assert!(names(&other_project).is_empty());
}

#[tokio::test]
async fn an_unchanged_poll_gets_the_same_304_on_the_fast_lane_as_on_the_routed_path() {
    let app = TestApp::spawn().await;
    app.admin().api.new_flag(PROJECT, "checkout").await;
    let token = ready_token(&app, "development").await;
    let etag = features(&app, &token, "").await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_string();
    let poll = |query: &'static str| {
        reqwest::Client::new()
            .get(app.url(&format!("/api/client/features{query}")))
            .header("Authorization", &token)
            .header("If-None-Match", &etag)
            .header("Origin", "https://shop.example")
            .send()
    };
    // An empty prefix keeps every flag, so the routed answer has the same body and ETag.
    let (fast, routed) = (poll("").await.unwrap(), poll("?namePrefix=").await.unwrap());
    assert_eq!(
        (fast.status().as_u16(), routed.status().as_u16()),
        (304, 304)
    );
    let headers = |r: &reqwest::Response| -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = r
            .headers()
            .iter()
            .filter(|(name, _)| !matches!(name.as_str(), "x-request-id" | "date"))
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_string()))
            .collect();
        all.sort();
        all
    };
    assert_eq!(headers(&fast), headers(&routed));
    assert!(headers(&fast).contains(&("etag".to_string(), etag.clone())));
    assert!(fast.headers().contains_key("x-request-id"));

    // A revoked token is refused, not answered 304, once the feed has seen the revocation.
    let admin = app.admin();
    let created: Value = admin
        .api
        .create_token(
            PROJECT,
            &json!({"type": "client", "name": "poller", "environment": "development"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    let poll_with = |secret: String| {
        let etag = etag.clone();
        let url = app.url("/api/client/features");
        async move {
            reqwest::Client::new()
                .get(url)
                .header("Authorization", secret)
                .header("If-None-Match", etag)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    wait_for("the new token", || async {
        poll_with(secret.clone()).await == 304
    })
    .await;
    let id = created["token"]["id"].as_i64().unwrap();
    assert_eq!(admin.api.revoke_token(PROJECT, id).await.status(), 200);
    wait_for("the revocation", || async {
        poll_with(secret.clone()).await == 401
    })
    .await;
}

#[tokio::test]
async fn gzip_is_served_when_asked_for_and_decodes_to_the_same_body() {
    let app = TestApp::spawn().await;
    app.admin()
        .api
        .create_flag(PROJECT, &json!({"key": "checkout"}))
        .await;
    let token = ready_token(&app, "development").await;
    let plain = features(&app, &token, "").await.bytes().await.unwrap();
    let zipped = reqwest::Client::builder()
        .no_gzip()
        .build()
        .unwrap()
        .get(app.url("/api/client/features"))
        .header("Authorization", &token)
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let raw = zipped.bytes().await.unwrap();
    let mut out = Vec::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain);
}

#[tokio::test]
async fn the_stream_hydrates_then_delivers_each_change() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin
        .api
        .create_flag(PROJECT, &json!({"key": "checkout"}))
        .await;
    let token = ready_token(&app, "development").await;
    let mut stream = reqwest::Client::new()
        .get(app.url("/api/client/streaming"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let mut seen = String::new();
    let read_until = |needle: &'static str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        (needle, deadline)
    };
    let (needle, deadline) = read_until("unleash-connected");
    while !seen.contains(needle) {
        assert!(Instant::now() < deadline, "no hydration: {seen}");
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("\"type\":\"hydration\""), "{seen}");
    assert!(seen.contains("\"name\":\"checkout\""), "{seen}");

    admin
        .api
        .toggle(PROJECT, "checkout", "development", true)
        .await;
    let mut update = String::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !update.contains("feature-updated") {
        assert!(Instant::now() < deadline, "no update within 5 s: {update}");
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        update.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(update.contains("event: unleash-updated"), "{update}");
    assert!(update.contains("\"enabled\":true"), "{update}");
}

#[tokio::test]
async fn sdk_reports_are_recorded_as_applications_and_hourly_counts() {
    let app = TestApp::spawn().await;
    app.admin()
        .api
        .create_flag(PROJECT, &json!({"key": "checkout"}))
        .await;
    let token = ready_token(&app, "development").await;
    let http = reqwest::Client::new();
    let register = http
        .post(app.url("/api/client/register"))
        .header("Authorization", &token)
        .json(
            &json!({"appName": "shop", "instanceId": "i-1", "sdkVersion": "unleash-node-sdk:6.1.0",
            "strategies": [], "started": "2026-11-24T10:00:00Z", "interval": 15000}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(register.status(), 202);
    // Buckets must start near now (issue 11, item 10): this hour, at minute 0.
    let hour = chrono::Utc::now()
        .format("%Y-%m-%dT%H:00:00.000Z")
        .to_string();
    let start = hour.replace(".000Z", "Z");
    let metrics = http
        .post(app.url("/api/client/metrics"))
        .header("Authorization", &token)
        .json(&json!({"appName": "shop", "instanceId": "i-1", "bucket": {
            "start": start, "stop": start,
            "toggles": {"checkout": {"yes": 7, "no": 3, "variants": {"blue": 4}}}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 202);
    let junk = http
        .post(app.url("/api/client/metrics"))
        .header("Authorization", &token)
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(junk.status(), 400);

    wait_for("the usage to be written", || async {
        let mut c = app.sql().await;
        let row: Option<(i64, i64)> = switchyard::db::query_as(
            "select yes, no from usage_hourly where flag_key = 'checkout' and hour = ?",
        )
        .bind(&hour)
        .fetch_optional(&mut c)
        .await
        .unwrap();
        row == Some((7, 3))
    })
    .await;
    let mut c = app.sql().await;
    let apps: Vec<(String, String, String)> = switchyard::db::query_as(
        "select app_name, instance_id, sdk_version from client_applications",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    assert_eq!(
        apps,
        [("shop".into(), "i-1".into(), "unleash-node-sdk:6.1.0".into())]
    );
    let used: Option<String> =
        switchyard::db::query_scalar("select last_used_at from api_tokens where kind = 'client'")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert!(used.is_some(), "the token's last use was not recorded");
}

#[tokio::test]
async fn feed_tokens_are_scoped_to_their_kind() {
    let app = TestApp::spawn().await;
    let client = ready_token(&app, "development").await;
    let frontend = app.feed_token("frontend", PROJECT, "development");
    let admin = app.admin_token(PROJECT, crate::support::ADMIN_EMAIL);
    // Admin tokens are known to the feed only to be refused (403, not 401).
    wait_for(
        "the admin token to be refused as the wrong kind",
        || async { features(&app, &admin, "").await.status() == 403 },
    )
    .await;
    wait_for("the frontend token", || async {
        reqwest::Client::new()
            .get(app.url("/api/frontend"))
            .header("Authorization", &frontend)
            .send()
            .await
            .unwrap()
            .status()
            == 200
    })
    .await;
    assert_eq!(features(&app, &frontend, "").await.status(), 403);
    let r = reqwest::Client::new()
        .get(app.url("/api/frontend"))
        .header("Authorization", &client)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(features(&app, "nonsense", "").await.status(), 401);
}

#[tokio::test]
async fn server_side_evaluations_are_counted_as_usage() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin
        .api
        .create_flag(PROJECT, &json!({"key": "checkout"}))
        .await;
    admin
        .api
        .toggle(PROJECT, "checkout", "development", true)
        .await;
    let token = ready_token(&app, "development").await;
    let http = reqwest::Client::new();
    // Threads hand their tallies over about once a second, on their next evaluation.
    let until = Instant::now() + Duration::from_millis(2500);
    let mut sent = 0;
    while Instant::now() < until {
        let r = http
            .post(app.url("/ofrep/v1/evaluate/flags/checkout"))
            .header("Authorization", format!("Bearer {token}"))
            .json(&json!({"context": {"targetingKey": "u1"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        sent += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for("server-side evaluations in usage", || async {
        let mut c = app.sql().await;
        let yes: i64 = switchyard::db::query_scalar(
            "select cast(coalesce(sum(yes), 0) as bigint) from usage_hourly where flag_key = 'checkout'",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        yes > 0 && yes <= sent
    })
    .await;
}

#[tokio::test]
async fn after_changes_to_single_flags_the_feed_serves_what_a_fresh_start_serves() {
    let mut app = TestApp::spawn().await;
    let admin = app.admin();
    for key in ["alpha", "beta", "gamma"] {
        admin.api.new_flag(PROJECT, key).await;
    }
    let token = ready_token(&app, "development").await;
    // Each of these names one flag in the audit log, so the feed re-reads only that flag and
    // patches what it served before.
    let flag = |key: &str, rest: &str| format!("/api/admin/projects/{PROJECT}/flags/{key}{rest}");
    admin
        .api
        .toggle(PROJECT, "alpha", "development", true)
        .await;
    let rollout = json!([{"name": "flexibleRollout",
        "parameters": {"rollout": "25", "stickiness": "default", "groupId": "beta"}}]);
    let r = (admin.api)
        .send(
            reqwest::Method::PUT,
            &flag("beta", "/environments/development/strategies"),
            Some(&rollout),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = (admin.api)
        .send(
            reqwest::Method::PUT,
            &flag("gamma", "/dependencies"),
            Some(&json!([{"feature": "alpha"}])),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = admin
        .api
        .patch(PROJECT, "gamma", &json!({"description": "now described"}))
        .await;
    assert_eq!(r.status(), 200);
    admin.api.archive(PROJECT, "beta").await;
    admin.api.new_flag(PROJECT, "delta").await;

    let settled = || async {
        let body: Value = features(&app, &token, "").await.json().await.unwrap();
        let gamma = body["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "gamma")
            .cloned()
            .unwrap_or_default();
        names(&body) == ["alpha", "delta", "gamma"]
            && gamma["description"] == "now described"
            && gamma["dependencies"][0]["feature"] == "alpha"
    };
    wait_for("every change on the feed", settled).await;
    let patched = features(&app, &token, "").await;
    let patched_etag = patched.headers()["etag"].to_str().unwrap().to_string();
    let patched = patched.bytes().await.unwrap();

    app.restart().await;
    let fresh = features(&app, &token, "").await;
    assert_eq!(fresh.headers()["etag"].to_str().unwrap(), patched_etag);
    assert_eq!(fresh.bytes().await.unwrap(), patched);
}
