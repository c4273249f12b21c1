//! The cleanup journey of issue 12 in real Chromium: the weekly report names a stale flag; its
//! owner follows it to the flag's Lifecycle tab, marks it completed, archives it through the
//! retirement checklist, and SDKs no longer receive it.

use crate::browser::{click_and_confirm, sign_in_as};
use crate::support::browser::Chrome;
use crate::support::{TestApp, ADMIN_EMAIL, PROJECT};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within 20 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The flag keys `/api/client/features` serves to `token`.
async fn served(app: &TestApp, token: &str) -> Vec<String> {
    let body: Value = reqwest::Client::new()
        .get(app.url("/api/client/features"))
        .header("Authorization", token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["features"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .filter_map(|f| f["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_stale_flag_goes_from_the_weekly_report_to_archived_and_out_of_the_feed() {
    // Monday 6 January 2031, 08:00: the week's report is due at 09:00.
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("now");
    std::fs::write(&clock, "2031-01-06T08:00:00Z").unwrap();
    let app = TestApp::spawn_with_env(&[
        ("SWITCHYARD_TEST_CLOCK_FILE", clock.to_str().unwrap()),
        ("SWITCHYARD_LIFECYCLE_INTERVAL_SECONDS", "1"),
    ])
    .await;
    let admin = app.admin();
    // Operational flags are expected to live 7 days: three weeks on, this one is stale.
    let body = json!({"key": "cleanup-job", "type": "operational", "owner": ADMIN_EMAIL});
    let r = admin.api.create_flag(PROJECT, &body).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    admin
        .api
        .toggle(PROJECT, "cleanup-job", "development", true)
        .await;
    let dev = app.feed_token("client", PROJECT, "development");
    std::fs::write(&clock, "2031-01-27T09:00:30Z").unwrap();
    eventually("the week's report is kept", || async {
        let r: Value = admin
            .api
            .get(&format!("/api/admin/reports?project={PROJECT}"))
            .await
            .json()
            .await
            .unwrap();
        r["reports"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    eventually("the feed serves the flag", || async {
        served(&app, &dev)
            .await
            .contains(&"cleanup-job".to_string())
    })
    .await;

    let chrome = Chrome::start(&app.base).await;
    sign_in_as(&chrome, ADMIN_EMAIL, "cleanup-01-login").await;
    chrome.goto("/reports").await;
    chrome.wait_for("table a[href^='/reports/']").await;
    chrome.screenshot("cleanup-02-reports").await;
    chrome.click("table a[href^='/reports/']").await;
    chrome.wait_for(".report-flag").await;
    chrome.screenshot("cleanup-03-report").await;
    let text = chrome.body_text().await;
    assert!(text.contains("cleanup-job"), "{text}");
    chrome.click(".report-flag h3 a.key").await;
    chrome.wait_for("#stale-title").await;
    assert_eq!(
        chrome.path().await,
        format!("/projects/{PROJECT}/flags/cleanup-job?tab=lifecycle")
    );
    chrome.screenshot("cleanup-04-lifecycle").await;
    chrome
        .fill(
            "form[action$='/complete'] input[name='note']",
            "job retired",
        )
        .await;
    chrome
        .click("form[action$='/complete'] button[type='submit']")
        .await;
    chrome.wait_for(".flash-success").await;
    chrome.wait_for("#retirement").await;
    let text = chrome.body_text().await;
    assert!(text.contains("Marked completed"), "{text}");
    chrome
        .fill("#retirement input[name='reason']", "removed in 2.4")
        .await;
    click_and_confirm(&chrome, "#retirement button[type='submit']").await;
    chrome.wait_for(".flash-success").await;
    chrome.screenshot("cleanup-05-archived").await;
    assert!(chrome.body_text().await.contains("cleanup-job archived."));
    chrome.quit().await;

    eventually("the feed no longer serves it", || async {
        !served(&app, &dev)
            .await
            .contains(&"cleanup-job".to_string())
    })
    .await;
    let f: Value = admin
        .api
        .get(&format!("/api/admin/projects/{PROJECT}/flags/cleanup-job"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(f["flag"]["lifecycleStage"], "archived", "{f}");
}
