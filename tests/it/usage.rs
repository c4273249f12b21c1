//! The Usage tab and its API: SDK metrics posted with a client token come back as numbers per
//! environment and day, with the reporting application; and the account page throttles guesses
//! of the current password.

use crate::feed::{ready_token, wait_for};
use crate::support::{TestApp, PASSWORD, PROJECT};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn report(app: &TestApp, token: &str, body: Value) {
    let r = reqwest::Client::new()
        .post(app.url("/api/client/metrics"))
        .header("Authorization", token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
}

fn env<'a>(usage: &'a Value, key: &str) -> &'a Value {
    usage["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == key)
        .unwrap_or_else(|| panic!("no environment {key} in {usage}"))
}

#[tokio::test]
async fn reported_evaluations_appear_in_the_usage_api_and_on_the_usage_tab() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    admin.api.new_flag(PROJECT, "search").await;
    let viewer = app.user("viewer");
    let dev = ready_token(&app, "development").await;
    let prod = ready_token(&app, "production").await;
    let register = reqwest::Client::new()
        .post(app.url("/api/client/register"))
        .header("Authorization", &dev)
        .json(&json!({"appName": "shop", "instanceId": "i-1",
            "sdkVersion": "unleash-node-sdk:6.1.0", "strategies": [], "interval": 15000}))
        .send()
        .await
        .unwrap();
    assert_eq!(register.status(), 202);
    let now = chrono::Utc::now().to_rfc3339();
    report(
        &app,
        &dev,
        json!({"appName": "shop", "instanceId": "i-1", "bucket": {
        "start": now, "stop": now,
        "toggles": {"checkout": {"yes": 7, "no": 3}}}}),
    )
    .await;
    report(
        &app,
        &prod,
        json!({"appName": "billing", "instanceId": "b-9", "bucket": {
        "start": now, "stop": now,
        "toggles": {"checkout": {"yes": 2, "no": 0, "variants": {"blue": 2}}}}}),
    )
    .await;

    let path = format!("/api/admin/projects/{PROJECT}/flags/checkout/usage");
    wait_for("the usage to be written", || async {
        let usage: Value = viewer.api.get(&path).await.json().await.unwrap();
        env(&usage, "development")["yes"] == 7 && env(&usage, "production")["yes"] == 2
    })
    .await;
    let r = viewer.api.get(&path).await;
    assert_eq!(r.status(), StatusCode::OK);
    let usage: Value = r.json().await.unwrap();
    let development = env(&usage, "development");
    assert_eq!(
        (development["yes"].clone(), development["no"].clone()),
        (json!(7), json!(3))
    );
    let days = development["days"].as_array().unwrap();
    assert_eq!(days.len(), 14);
    assert_eq!(days[13]["yes"], 7, "today is the last day: {development}");
    assert!(development["lastSeen"].is_string());
    assert_eq!(
        env(&usage, "production")["variants"],
        json!([{"name": "blue", "count": 2}])
    );
    assert_eq!(env(&usage, "staging")["yes"], 0);
    assert!(env(&usage, "staging")["lastSeen"].is_null());
    let apps = usage["applications"].as_array().unwrap();
    assert!(
        apps.iter().any(|a| a["appName"] == "shop"
            && a["instanceId"] == "i-1"
            && a["environment"] == "development"
            && a["sdkVersion"] == "unleash-node-sdk:6.1.0"),
        "{usage}"
    );
    let missing = viewer
        .api
        .get(&format!("/api/admin/projects/{PROJECT}/flags/nope/usage"))
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let browser = app.signed_in(&viewer.email).await;
    let page = browser
        .get(&format!("/projects/{PROJECT}/flags/checkout?tab=usage"))
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"aria-current="page">Usage</a>"#), "{html}");
    assert!(
        html.contains("Evaluations per day in development over the last 14 days: 7 yes, 3 no"),
        "{html}"
    );
    assert!(html.contains("<svg "), "{html}");
    assert!(html.contains("<caption>Evaluations per day in development</caption>"));
    assert!(html.contains("<code>blue</code>"), "{html}");
    assert!(html.contains("Connected applications"));
    assert!(html.contains("unleash-node-sdk:6.1.0"), "{html}");
    assert!(html.contains("b-9"), "{html}");
    assert!(!html.contains("style="), "no inline styles under the CSP");

    let empty = browser
        .get(&format!("/projects/{PROJECT}/flags/search?tab=usage"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        empty.contains("No SDK has reported this flag yet"),
        "{empty}"
    );
    assert!(empty.contains(&format!("/projects/{PROJECT}/tokens")));
}

#[tokio::test]
async fn the_projects_list_shows_health_as_a_meter() {
    let app = TestApp::spawn().await;
    app.admin().api.new_flag(PROJECT, "checkout").await;
    let browser = app.signed_in(crate::support::ADMIN_EMAIL).await;
    let html = browser.get("/projects").await.text().await.unwrap();
    assert!(
        html.contains(r#"value="100""#),
        "a new flag is not stale: {html}"
    );
    assert!(html.contains("<meter"), "{html}");
    assert!(!html.contains("style="));
}

#[tokio::test]
async fn wrong_current_passwords_are_throttled_with_429() {
    let app = TestApp::spawn().await;
    let user = app.user("viewer");
    let browser = app.signed_in(&user.email).await;
    let csrf = browser.csrf().await;
    let change = |current: &'static str| {
        let (browser, csrf) = (&browser, csrf.clone());
        async move {
            let fields = [
                ("current", current),
                ("new", "a-brand-new-long-passphrase-77"),
                ("confirm", "a-brand-new-long-passphrase-77"),
                ("csrf_token", csrf.as_str()),
            ];
            browser.post_form("/account/password", &fields, &[]).await
        }
    };
    for _ in 0..5 {
        let r = change("not-my-password").await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let r = change("not-my-password").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0 && wait <= 15 * 60, "{wait}");
    let html = r.text().await.unwrap();
    assert!(html.contains("too many wrong passwords"), "{html}");
    // Even the right password waits: the guesser cannot tell.
    let right = change(PASSWORD).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(browser.is_signed_in().await);
}

#[tokio::test]
async fn a_metrics_post_keeps_the_transports_limits_headers_and_reasons() {
    let app = TestApp::spawn().await;
    let token = ready_token(&app, "development").await;
    let post = |body: String, token: &str| {
        reqwest::Client::new()
            .post(app.url("/api/client/metrics"))
            .header("Authorization", token)
            .header("Origin", "https://shop.example")
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    // Accepted: Unleash's 202, with the headers every feed answer carries.
    let r = post(json!({"appName": "shop"}).to_string(), &token)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-request-id"].len(), 32);
    // Past the body limit: refused whole with the reason, as any route answers it.
    let big = format!(r#"{{"appName":"{}"}}"#, "x".repeat(1024 * 1024));
    let r = post(big, &token).await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "body-too-large", "{body}");
    // Not JSON, and a token the feed does not know: JSON reasons.
    let r = post("{\"appName\": ".into(), &token).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("could not be read"),
        "{body}"
    );
    let r = post("{}".into(), "not-a-token").await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    // A query string takes the routed way, with the same answer.
    let r = reqwest::Client::new()
        .post(app.url("/api/client/metrics?x=1"))
        .header("Authorization", &token)
        .json(&json!({"appName": "shop"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
}
