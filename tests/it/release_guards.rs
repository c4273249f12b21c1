//! Guards and the automatic rollback: a simulated metric stream (posted signals, the test clock)
//! breaching a guard rolls the plan back exactly once, audited with its evidence, told to
//! webhooks and to streaming SDKs; a blip shorter than the sustain is tolerated; a rolled-back
//! plan stays stopped; and a guard reads the impact metrics the real Node SDK sends.

use crate::feed::ready_token;
use crate::release_plans::{plan, plan_path, plan_until, served};
use crate::support::clock::TestClock;
use crate::support::{Api, TestApp, PROJECT};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const START: &str = "2030-06-01T12:00:30Z";

fn at(clock: &TestClock, seconds: i64) -> String {
    (clock.start + TimeDelta::seconds(seconds)).to_rfc3339()
}

/// Posts one minute of traffic: `requests` requests of which `errors` failed.
async fn traffic(api: &Api, at: &str, requests: i64, errors: i64) {
    let sample = |name: &str, value: i64| {
        json!({"name": name, "type": "counter", "environment": "development", "appName": "shop",
               "value": value, "at": at})
    };
    let body =
        json!({"samples": [sample("http_requests", requests), sample("http_errors", errors)]});
    let r = api
        .send(
            Method::POST,
            &format!("/api/admin/projects/{PROJECT}/signals"),
            Some(&body),
        )
        .await;
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["accepted"], 2, "{answer}");
}

fn error_ratio_guard(relative: bool, threshold: f64, sustain: i64) -> Value {
    json!({"metric": "http_errors", "aggregation": "ratio", "denominator": "http_requests",
           "threshold": threshold, "relativeToBaseline": relative, "windowSeconds": 120,
           "sustainSeconds": sustain})
}

/// A webhook receiver on loopback that keeps every body.
async fn receiver() -> (Arc<Mutex<Vec<Value>>>, String) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    async fn keep(State(got): State<Arc<Mutex<Vec<Value>>>>, Json(body): Json<Value>) {
        got.lock().unwrap().push(body);
    }
    let app = Router::new()
        .route("/hook", post(keep))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (got, base)
}

async fn audit_count(api: &Api, action: &str) -> usize {
    let a: Value = api
        .audit(&format!("action={action}"))
        .await
        .json()
        .await
        .unwrap();
    a["entries"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_sustained_breach_rolls_back_once_with_its_evidence_and_stays_stopped() {
    let clock = TestClock::at(START);
    let (hooks, base) = receiver().await;
    let host = base.trim_start_matches("http://").to_string();
    let app =
        TestApp::spawn_with_env(&[clock.env(), ("SWITCHYARD_WEBHOOK_ALLOW_HOSTS", &host)]).await;
    let admin = app.admin();
    let approver = app.user("approver");
    admin.api.new_flag(PROJECT, "checkout").await;
    let hook = json!({"url": format!("{base}/hook"), "events": ["release-plan.rolled-back"]});
    let r = admin.api.add_webhook(PROJECT, &hook).await;
    assert_eq!(r.status(), StatusCode::CREATED);

    // A minute of healthy traffic before the plan: 1 % errors is the baseline.
    traffic(&admin.api, &at(&clock, -50), 1000, 10).await;
    let body = json!({"template": "gradual", "onBreach": "previous", "autoAdvance": true,
                      "guards": [error_ratio_guard(true, 2.0, 60)]});
    let r = admin
        .api
        .send(Method::POST, &plan_path("development"), Some(&body))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["guards"][0]["baseline"], 0.01);
    let r = admin
        .api
        .send(
            Method::POST,
            &format!("{}/advance", plan_path("development")),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        served(&admin.api, "development").await,
        (true, Some("10".into()))
    );

    // Half the requests fail: over the limit (2 × 1 %), not yet for the sustain of 60 s.
    traffic(&admin.api, &at(&clock, 10), 100, 50).await;
    let p = plan_until(&admin.api, "development", "the guard going over", |p| {
        !p["guards"][0]["overSince"].is_null()
    })
    .await;
    assert_eq!(p["guards"][0]["status"], "breaching");
    assert_eq!(p["state"], "running");

    // Still failing 70 s later: rolled back to the previous milestone, at once.
    clock.set(clock.start + TimeDelta::seconds(70));
    let p = plan_until(&admin.api, "development", "the rollback", |p| {
        p["state"] == "rolled-back"
    })
    .await;
    assert_eq!(p["milestone"], 0);
    assert_eq!(
        served(&admin.api, "development").await,
        (true, Some("1".into()))
    );
    assert_eq!(p["guards"][0]["backToBaseline"], false);
    let review = &p["reviews"][0];
    assert!(
        review["what"]
            .as_str()
            .unwrap()
            .contains("went back to the milestone 1 %"),
        "{review}"
    );
    assert_eq!(review["evidence"]["baseline"], 0.01);
    assert_eq!(review["evidence"]["value"], 0.5);

    // Time passes and the job keeps running: exactly one rollback, and no automatic resume
    // even though the hold has passed.
    clock.set(clock.start + TimeDelta::hours(3));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let p = plan(&admin.api, "development").await;
    assert_eq!(
        (p["state"].clone(), p["milestone"].clone()),
        (json!("rolled-back"), json!(0))
    );
    assert_eq!(audit_count(&admin.api, "release-plan.rolled-back").await, 1);
    let a: Value = admin
        .api
        .audit("action=release-plan.rolled-back")
        .await
        .json()
        .await
        .unwrap();
    let entry = &a["entries"][0];
    assert_eq!(entry["actorKind"], "system");
    assert_eq!(entry["after"]["automatic"], true);
    assert_eq!(entry["after"]["evidence"]["limit"], 0.02);
    assert!(entry["after"]["evidence"]["windowStart"].is_string());

    // The webhook says it, once.
    let deadline = Instant::now() + Duration::from_secs(20);
    while hooks.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no webhook");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = hooks.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["event"], "release-plan.rolled-back");
    assert_eq!(got[0]["flag"], "checkout");
    assert!(
        got[0]["reason"]
            .as_str()
            .unwrap()
            .contains("ratio of http_errors"),
        "{got:?}"
    );

    // The feed serves the rolled-back state.
    let token = ready_token(&app, "development").await;
    let features: Value = reqwest::Client::new()
        .get(app.url("/api/client/features"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let f = &features["features"][0];
    assert_eq!(f["strategies"][0]["parameters"]["rollout"], "1", "{f}");

    // An approver completes the review; a person resumes.
    let path = format!("{}/reviews/{}", plan_path("development"), review["id"]);
    let r = approver
        .api
        .send(
            Method::POST,
            &path,
            Some(&json!({"note": "bad deploy, fixed"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let again = approver
        .api
        .send(Method::POST, &path, Some(&json!({"note": "twice"})))
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let r = admin
        .api
        .send(
            Method::POST,
            &format!("{}/resume", plan_path("development")),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["state"], "running");
}

#[tokio::test]
async fn two_servers_watching_the_same_plans_roll_back_once() {
    let clock = TestClock::at(START);
    let app = TestApp::spawn_with_env(&[clock.env()]).await;
    let _twin = app.twin();
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    traffic(&admin.api, &at(&clock, -50), 1000, 10).await;
    let body = json!({"template": "gradual", "onBreach": "off", "autoAdvance": true,
                      "guards": [error_ratio_guard(true, 2.0, 0)]});
    let r = admin
        .api
        .send(Method::POST, &plan_path("development"), Some(&body))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    traffic(&admin.api, &at(&clock, 5), 100, 50).await;
    plan_until(&admin.api, "development", "the rollback", |p| {
        p["state"] == "rolled-back"
    })
    .await;
    // Both keep ticking; the hold passes too: still one rollback, no advance.
    clock.set(clock.start + TimeDelta::hours(2));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(audit_count(&admin.api, "release-plan.rolled-back").await, 1);
    assert_eq!(audit_count(&admin.api, "release-plan.advanced").await, 0);
    let p = plan(&admin.api, "development").await;
    assert_eq!(p["reviews"].as_array().unwrap().len(), 1);
    assert_eq!(p["events"].as_array().unwrap().len(), 2, "{p}");
}

#[tokio::test]
async fn a_blip_shorter_than_the_sustain_is_tolerated() {
    let clock = TestClock::at(START);
    let app = TestApp::spawn_with_env(&[clock.env()]).await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    traffic(&admin.api, &at(&clock, -50), 1000, 10).await;
    let body = json!({"template": "gradual", "guards": [error_ratio_guard(true, 2.0, 60)]});
    let r = admin
        .api
        .send(Method::POST, &plan_path("development"), Some(&body))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    traffic(&admin.api, &at(&clock, 5), 100, 50).await;
    plan_until(&admin.api, "development", "the guard going over", |p| {
        !p["guards"][0]["overSince"].is_null()
    })
    .await;
    // The errors stop: plenty of healthy traffic brings the ratio back under the limit.
    traffic(&admin.api, &at(&clock, 20), 100_000, 100).await;
    plan_until(&admin.api, "development", "the guard coming back", |p| {
        p["guards"][0]["overSince"].is_null()
    })
    .await;
    clock.set(clock.start + TimeDelta::seconds(90));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let p = plan(&admin.api, "development").await;
    assert_eq!(p["state"], "running");
    assert_eq!(p["guards"][0]["status"], "healthy");
    assert_eq!(audit_count(&admin.api, "release-plan.rolled-back").await, 0);
}

/// An SSE client reads until `needle` shows up (10 s at most).
async fn read_until(stream: &mut reqwest::Response, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.contains(needle) {
        assert!(Instant::now() < deadline, "{needle:?} never came: {seen}");
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

#[tokio::test]
async fn a_streaming_sdk_receives_the_rollback() {
    let clock = TestClock::at(START);
    let app = TestApp::spawn_with_env(&[clock.env()]).await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    let body = json!({"template": "canary", "onBreach": "off",
                      "guards": [error_ratio_guard(false, 0.1, 0)]});
    let r = admin
        .api
        .send(Method::POST, &plan_path("development"), Some(&body))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let token = ready_token(&app, "development").await;
    let mut stream = reqwest::Client::new()
        .get(app.url("/api/client/streaming"))
        .header("Authorization", &token)
        .send()
        .await
        .unwrap();
    let hydrated = read_until(&mut stream, "unleash-connected").await;
    assert!(hydrated.contains("\"enabled\":true"), "{hydrated}");

    traffic(&admin.api, &at(&clock, 5), 100, 60).await;
    let update = read_until(&mut stream, "\"enabled\":false").await;
    assert!(update.contains("event: unleash-updated"), "{update}");
    assert!(update.contains("checkout"), "{update}");
    assert_eq!(
        plan(&admin.api, "development").await["state"],
        "rolled-back"
    );
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
unleash.once('synchronized', async () => {
  const m = unleash.impactMetrics;
  m.defineCounter('checkout_failures', 'Failed checkouts');
  m.incrementCounter('checkout_failures', 30);
  await unleash.flushMetrics();
  unleash.destroy();
  console.log('sent');
});
"#;

#[tokio::test]
async fn a_guard_reads_the_impact_metrics_the_node_sdk_sends() {
    let sdk = crate::signals::node_sdk();
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    // More than a failure every ten seconds over two minutes breaks the release.
    let guard = json!({"metric": "checkout_failures", "aggregation": "rate", "threshold": 0.1,
                       "windowSeconds": 120, "sustainSeconds": 0});
    let body = json!({"template": "gradual", "onBreach": "off", "guards": [guard]});
    let r = admin
        .api
        .send(Method::POST, &plan_path("development"), Some(&body))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["guards"][0]["status"], "no-data");

    let token = ready_token(&app, "development").await;
    let script = app.dir().join("failures.js");
    std::fs::write(&script, SDK_SCRIPT).unwrap();
    let out = Command::new("node")
        .arg(&script)
        .env("NODE_PATH", sdk.join("node_modules"))
        .env("SWITCHYARD_URL", &app.base)
        .env("SWITCHYARD_TOKEN", &token)
        .output()
        .expect("node is needed to run the Unleash Node SDK");
    assert!(
        out.status.success(),
        "the SDK script failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let p = plan_until(
        &admin.api,
        "development",
        "the rollback on the SDK's metric",
        |p| p["state"] == "rolled-back",
    )
    .await;
    assert!(
        p["reviews"][0]["evidence"]["value"].as_f64().unwrap() >= 0.25,
        "{p}"
    );
    assert!(!served(&admin.api, "development").await.0);
}
