//! Health signals: services post batches (bad samples refused one by one, with reasons), SDKs
//! send Unleash impact metrics with their usage reports, and both read back as series.

use crate::feed::{ready_token, wait_for};
use crate::support::{Api, TestApp, PROJECT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;

fn path() -> String {
    format!("/api/admin/projects/{PROJECT}/signals")
}

/// The series `query` asks for, as the API answers them.
async fn read(api: &Api, query: &str) -> Value {
    let r = api.get(&format!("{}?{query}", path())).await;
    r.json().await.unwrap()
}

fn series<'a>(answer: &'a Value, name: &str) -> Vec<&'a Value> {
    answer["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == name)
        .collect()
}

fn counter_total(series: &[&Value]) -> i64 {
    series
        .iter()
        .flat_map(|s| s["points"].as_array().unwrap())
        .map(|p| p["value"].as_i64().unwrap())
        .sum()
}

#[tokio::test]
async fn a_batch_keeps_its_good_samples_and_names_each_refusal() {
    let app = TestApp::spawn().await;
    let editor = app.user("editor");
    let viewer = app.user("viewer");
    let now = chrono::Utc::now();
    let at = |minutes_ago: i64| (now - chrono::TimeDelta::minutes(minutes_ago)).to_rfc3339();
    let body = json!({"samples": [
        {"name": "http_requests", "type": "counter", "environment": "production",
         "appName": "shop", "labels": {"route": "/pay"}, "value": 40, "at": at(2)},
        {"name": "http_requests", "type": "counter", "environment": "production",
         "appName": "shop", "labels": {"route": "/pay"}, "value": -5},
        {"name": "http_errors", "type": "counter", "environment": "production",
         "appName": "shop", "labels": {"route": "/pay"}, "value": 2, "at": at(2)},
        {"name": "queue_depth", "type": "gauge", "environment": "production", "value": "NaN"},
        {"name": "queue_depth", "type": "gauge", "environment": "production", "value": 12.5},
        {"name": "latency", "type": "summary", "environment": "production", "value": 1},
        {"name": "latency", "type": "histogram", "environment": "moon", "count": 1, "sum": 1,
         "buckets": [{"le": "+Inf", "count": 1}]},
        {"name": "latency", "type": "histogram", "environment": "production", "count": 4,
         "sum": 1.2, "buckets": [{"le": 0.1, "count": 1}, {"le": 0.5, "count": 3},
         {"le": "+Inf", "count": 4}]},
        {"name": "queue_depth", "type": "gauge", "environment": "production", "value": 1,
         "at": "2001-01-01T00:00:00Z"},
        {"name": "queue_depth", "type": "gauge", "environment": "production", "value": "Infinity"}
    ]});

    let refused = viewer.api.send(Method::POST, &path(), Some(&body)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let r = editor.api.send(Method::POST, &path(), Some(&body)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let outcome: Value = r.json().await.unwrap();
    assert_eq!(outcome["accepted"], 4, "{outcome}");
    let rejected: Vec<(i64, String)> = outcome["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["index"].as_i64().unwrap(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let indices: Vec<i64> = rejected.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, [1, 3, 5, 6, 8, 9], "{outcome}");
    assert!(rejected[0].1.contains("only goes up"), "{}", rejected[0].1);
    assert!(rejected[1].1.contains("not a finite number"));
    assert!(rejected[2].1.contains("unknown type"));
    assert!(rejected[3].1.contains("unknown environment"));
    assert!(rejected[4].1.contains("too far from now"));

    // A name keeps its type.
    let clash = json!({"samples": [{"name": "http_requests", "type": "gauge",
        "environment": "production", "appName": "shop", "labels": {"route": "/pay"}, "value": 1}]});
    let outcome: Value = editor
        .api
        .send(Method::POST, &path(), Some(&clash))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(outcome["accepted"], 0);
    assert!(outcome["rejected"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("already a counter"));

    let since = (now - chrono::TimeDelta::minutes(30)).to_rfc3339();
    let answer = read(
        &viewer.api,
        &format!("environment=production&since={}", urlencode(&since)),
    )
    .await;
    let requests = series(&answer, "http_requests");
    assert_eq!(requests.len(), 1, "{answer}");
    assert_eq!(requests[0]["type"], "counter");
    assert_eq!(requests[0]["environment"], "production");
    assert_eq!(requests[0]["appName"], "shop");
    assert_eq!(requests[0]["labels"], json!({"route": "/pay"}));
    assert_eq!(counter_total(&requests), 40);
    assert_eq!(
        series(&answer, "queue_depth")[0]["points"][0]["value"],
        12.5
    );
    let latency = series(&answer, "latency");
    assert_eq!(latency[0]["points"][0]["count"], 4);
    assert_eq!(
        latency[0]["points"][0]["buckets"],
        json!([{"le": 0.1, "count": 1}, {"le": 0.5, "count": 3}, {"le": "+Inf", "count": 4}])
    );
    // Another environment has none of them; a name narrows the answer.
    let dev = read(&viewer.api, "environment=development").await;
    assert_eq!(dev["series"], json!([]));
    let one = read(
        &viewer.api,
        &format!("name=http_errors&since={}", urlencode(&since)),
    )
    .await;
    assert_eq!(one["series"].as_array().unwrap().len(), 1);
    let bad = viewer
        .api
        .get(&format!("{}?environment=moon", path()))
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// A post that is not JSON, or has no list of samples, is refused whole with its reason, and
/// stores nothing; escaped text in a sample reads as the JSON says.
#[tokio::test]
async fn a_batch_that_cannot_be_read_is_refused_whole_with_its_reason() {
    let app = TestApp::spawn().await;
    let editor = app.user("editor");
    let post_text = |text: &'static str| {
        editor
            .api
            .request(Method::POST, &path())
            .header("content-type", "application/json")
            .body(text)
            .send()
    };
    let broken = post_text(r#"{"samples": [{"name": "m",}]}"#).await.unwrap();
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    let why: Value = broken.json().await.unwrap();
    assert_eq!(why["error"], "malformed-json", "{why}");
    for shape in [r#"{"samples": 3}"#, "[1, 2]", r#"{"sample": []}"#] {
        let r = post_text(shape).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{shape}");
        let why: Value = r.json().await.unwrap();
        assert!(why.to_string().contains("samples"), "{shape}: {why}");
    }
    let escaped = r#"{"samples": [{"name": "jobs", "type": "gauge", "environment": "production",
        "labels": {"queue": "caf\u00e9 \"eu\""}, "value": 3}]}"#;
    let r = post_text(escaped).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let outcome: Value = r.json().await.unwrap();
    assert_eq!(outcome["accepted"], 1, "{outcome}");
    let answer = read(&editor.api, "environment=production&name=jobs").await;
    let jobs = series(&answer, "jobs");
    assert_eq!(
        jobs.len(),
        1,
        "only the readable post stored anything: {answer}"
    );
    assert_eq!(jobs[0]["labels"], json!({"queue": "caf\u{e9} \"eu\""}));
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

/// The Node SDK (`unleash-client` from npm), installed once into the test build's temp folder
/// unless `UNLEASH_NODE_SDK_DIR` names a folder that holds it. Fails when it cannot be had: a
/// check that skips is no check.
pub(crate) fn node_sdk() -> PathBuf {
    if let Some(dir) = std::env::var_os("UNLEASH_NODE_SDK_DIR") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("node_modules/unleash-client").is_dir(),
            "UNLEASH_NODE_SDK_DIR ({}) holds no node_modules/unleash-client",
            dir.display()
        );
        return dir;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("unleash-node-sdk-6.12.2");
    if !dir.join("node_modules/unleash-client").is_dir() {
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent"])
            .arg("--prefix")
            .arg(&dir)
            .arg("unleash-client@6.12.2")
            .output()
            .expect("npm is needed to install the Unleash Node SDK (unleash-client)");
        assert!(
            out.status.success(),
            "npm install unleash-client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

const SDK_SCRIPT: &str = r#"
const { initialize } = require('unleash-client');
const unleash = initialize({
  url: process.env.SWITCHYARD_URL + '/api/',
  appName: 'checkout-service',
  customHeaders: { Authorization: process.env.SWITCHYARD_TOKEN },
  refreshInterval: 60000,
  metricsInterval: 60000,
});
const fail = (why) => { console.error(why); process.exit(2); };
setTimeout(() => fail('timed out'), 20000).unref();
unleash.on('error', (e) => fail('sdk error: ' + e));
unleash.on('warn', (w) => console.error('sdk warning: ' + w));
unleash.once('synchronized', async () => {
  const m = unleash.impactMetrics;
  m.defineCounter('purchases', 'Completed purchases');
  m.incrementCounter('purchases', 3);
  m.incrementCounter('purchases');
  m.defineHistogram('checkout_seconds', 'Checkout duration', [0.1, 0.5, 1]);
  for (const v of [0.05, 0.3, 0.4, 2]) m.observeHistogram('checkout_seconds', v);
  m.defineGauge('cart_items', 'Items in carts');
  m.updateGauge('cart_items', 4);
  await unleash.flushMetrics();
  unleash.destroy();
  console.log('sent');
});
"#;

#[tokio::test]
async fn the_node_sdk_sends_impact_metrics_that_read_back_as_series() {
    let sdk = node_sdk();
    let app = TestApp::spawn().await;
    let viewer = app.user("viewer");
    let token = ready_token(&app, "development").await;
    let script = app.dir().join("impact.js");
    std::fs::write(&script, SDK_SCRIPT).unwrap();
    let out = Command::new("node")
        .arg(&script)
        .env("NODE_PATH", sdk.join("node_modules"))
        .env("SWITCHYARD_URL", &app.base)
        .env("SWITCHYARD_TOKEN", &token)
        .output()
        .expect("node is needed to run the Unleash Node SDK");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("sent"),
        "the SDK script failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    wait_for("the impact metrics to be written", || async {
        counter_total(&series(
            &read(&viewer.api, "environment=development").await,
            "purchases",
        )) == 4
    })
    .await;
    let answer = read(&viewer.api, "environment=development").await;
    let purchases = series(&answer, "purchases");
    assert_eq!(purchases[0]["appName"], "checkout-service");
    assert_eq!(purchases[0]["environment"], "development");
    // The SDK's automatic labels (appName, environment) are the series' own fields.
    assert!(purchases[0]["labels"].get("appName").is_none());
    let histogram = series(&answer, "checkout_seconds");
    let point = histogram
        .iter()
        .flat_map(|s| s["points"].as_array().unwrap())
        .find(|p| p["count"] == 4)
        .unwrap_or_else(|| panic!("no histogram point with 4 observations: {answer}"));
    assert_eq!(
        point["buckets"],
        json!([{"le": 0.1, "count": 1}, {"le": 0.5, "count": 3}, {"le": 1.0, "count": 3},
            {"le": "+Inf", "count": 4}])
    );
    assert_eq!(series(&answer, "cart_items")[0]["points"][0]["value"], 4.0);
    // The production environment's token was not used: nothing there.
    let prod = read(&viewer.api, "environment=production").await;
    assert_eq!(prod["series"], json!([]));
}

#[tokio::test]
async fn a_project_holds_a_bounded_number_of_series_and_old_points_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock");
    let clock_path = clock.to_str().unwrap().to_string();
    let mut app = TestApp::spawn_with_env(&[("SWITCHYARD_TEST_CLOCK_FILE", &clock_path)]).await;
    let editor = app.user("editor");
    let samples: Vec<Value> = (0..1000)
        .map(|i| {
            json!({"name": "requests", "type": "counter", "environment": "development",
                "labels": {"customer": format!("c{i}")}, "value": 1})
        })
        .collect();
    let outcome: Value = editor
        .api
        .send(Method::POST, &path(), Some(&json!({ "samples": samples })))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(outcome["accepted"], 1000);
    let one_more = json!({"samples": [
        {"name": "requests", "type": "counter", "environment": "production",
         "labels": {"customer": "c1000"}, "value": 1},
        {"name": "requests", "type": "counter", "environment": "development",
         "labels": {"customer": "c7"}, "value": 1}]});
    let outcome: Value = editor
        .api
        .send(Method::POST, &path(), Some(&one_more))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        outcome["accepted"], 1,
        "an existing series still takes samples"
    );
    assert_eq!(outcome["rejected"][0]["index"], 0);
    assert!(outcome["rejected"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("already holds 1000 series"));
    let too_many = json!({ "samples": vec![json!({}); 1001] });
    let r = editor
        .api
        .send(Method::POST, &path(), Some(&too_many))
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Fifteen days on, the sweep (a few seconds after start, then hourly) deletes them all.
    let later = chrono::Utc::now() + chrono::TimeDelta::days(15);
    std::fs::write(&clock, later.to_rfc3339()).unwrap();
    app.restart().await;
    let app = &app;
    wait_for("old signals to be swept", || async {
        let mut conn = app.sql().await;
        let left: i64 = switchyard::db::query_scalar("select count(*) from signal_series")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        left == 0
    })
    .await;
}

#[tokio::test]
async fn the_feed_evaluation_counts_read_as_counter_series() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    let viewer = app.user("viewer");
    let token = ready_token(&app, "development").await;
    let now = chrono::Utc::now().to_rfc3339();
    let r = reqwest::Client::new()
        .post(app.url("/api/client/metrics"))
        .header("Authorization", &token)
        .json(
            &json!({"appName": "shop", "instanceId": "i-1", "bucket": {"start": now,
            "stop": now, "toggles": {"checkout": {"yes": 7, "no": 3, "variants": {"blue": 7}}}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let query = "name=feature_evaluations&environment=development&flag=checkout";
    wait_for("the usage to be written", || async {
        counter_total(&series(
            &read(&viewer.api, query).await,
            "feature_evaluations",
        )) == 17
    })
    .await;
    let answer = read(&viewer.api, query).await;
    let by = |labels: Value| {
        let all = series(&answer, "feature_evaluations");
        let one: Vec<&Value> = all.into_iter().filter(|s| s["labels"] == labels).collect();
        counter_total(&one)
    };
    assert_eq!(by(json!({"flag": "checkout", "enabled": "true"})), 7);
    assert_eq!(by(json!({"flag": "checkout", "enabled": "false"})), 3);
    assert_eq!(by(json!({"flag": "checkout", "variant": "blue"})), 7);
}
