//! Governance state in a real headless Chromium (issue 9): the pending badge appears when a
//! request is submitted and goes when it is applied; the kill banner stays until an approver
//! acknowledges it with a note; copying targeting from staging to production opens a request.
//! Each step is screenshotted at 1440x900 and at 390x844 (`target/screenshots/governance-*`).

use crate::browser::sign_in_as;
use crate::support::browser::Chrome;
use crate::support::{TestApp, PROJECT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const FLAG: &str = "/projects/web/flags/checkout";

/// Screenshots at a desktop and a phone size, then back to the desktop size.
async fn shots(chrome: &Chrome, name: &str) {
    for (w, h, size) in [(390, 844, "phone"), (1440, 900, "desktop")] {
        chrome.client.set_window_size(w, h).await.unwrap();
        chrome
            .screenshot(&format!("governance-{name}-{size}"))
            .await;
    }
}

fn request_id(path: &str) -> i64 {
    path.strip_prefix("/change-requests/")
        .and_then(|rest| rest.split(['?', '/', '#']).next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not a change request page: {path}"))
}

#[tokio::test]
async fn the_pending_badge_appears_on_submit_and_goes_on_apply() {
    let app = TestApp::spawn().await;
    app.admin().api.new_flag(PROJECT, "checkout").await;
    let editor = app.user("editor");
    let approver = app.user("approver");
    let chrome = Chrome::start(&app.base).await;
    chrome.client.set_window_size(1440, 900).await.unwrap();
    sign_in_as(&chrome, &editor.email, "governance-pending-login").await;

    // The protected switch stages the change and lands on the draft, which the editor submits.
    chrome.goto(FLAG).await;
    chrome
        .click("form[action$='/environments/production/toggle'] button.switch")
        .await;
    chrome.wait_for("form[action$='/submit']").await;
    let id = request_id(&chrome.path().await);
    chrome.fill("#title", "Launch checkout").await;
    chrome.fill("#reason", "QA signed off").await;
    chrome
        .click("form[action$='/submit'] button[type='submit']")
        .await;
    chrome
        .wait_until("!document.querySelector(\"form[action$='/submit']\")")
        .await;

    chrome.goto(FLAG).await;
    let header = chrome.wait_for(".page-header .badge-pending").await;
    // The badge is a flex row: its parts come back on lines of their own.
    let words = header.text().await.unwrap();
    let words: Vec<&str> = words.split_whitespace().collect();
    assert_eq!(
        words.join(" "),
        format!("pending change request #{id} in production")
    );
    let row = chrome.wait_for("#env-production .badge-pending").await;
    assert_eq!(
        row.attr("href").await.unwrap().as_deref(),
        Some(format!("/change-requests/{id}").as_str())
    );
    shots(&chrome, "pending-badge").await;

    for verb in ["approve", "apply"] {
        let r = approver.api.change_request_step(id, verb, None).await;
        assert_eq!(r.status(), StatusCode::OK, "{verb}");
    }
    chrome.goto(FLAG).await;
    chrome.wait_for("#env-production").await;
    let left = chrome
        .client
        .find_all(fantoccini::Locator::Css(".badge-pending"))
        .await
        .unwrap();
    assert!(left.is_empty(), "the badge is gone once applied");
    chrome.quit().await;
}

#[tokio::test]
async fn the_kill_banner_stays_until_an_approver_acknowledges_it_with_a_note() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    admin
        .api
        .force_toggle(PROJECT, "checkout", "production", true)
        .await;
    let editor = app.user("editor");
    let approver = app.user("approver");
    let body = json!({"reason": "checkout errors spiking"});
    let r = editor
        .api
        .kill(PROJECT, "checkout", "production", &body)
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let chrome = Chrome::start(&app.base).await;
    chrome.client.set_window_size(1440, 900).await.unwrap();
    sign_in_as(&chrome, &approver.email, "governance-kill-login").await;
    chrome.goto(FLAG).await;
    let banner = chrome.wait_for(".banner-kill").await.text().await.unwrap();
    assert!(banner.contains("Killed in"), "{banner}");
    assert!(banner.contains(&editor.email), "{banner}");
    assert!(banner.contains("checkout errors spiking"), "{banner}");
    let stage = chrome.wait_for("h1 .stage-live").await;
    assert_eq!(stage.text().await.unwrap(), "live");
    shots(&chrome, "kill-banner").await;

    // Without a note the app says what is missing, and the banner stays.
    chrome.click(".banner-kill button[type='submit']").await;
    let error = chrome.wait_for(".flash-error").await.text().await.unwrap();
    assert!(
        error.contains("Say what was done about the kill"),
        "{error}"
    );
    chrome.wait_for(".banner-kill").await;

    chrome
        .fill(
            ".banner-kill textarea[name='note']",
            "rolled back release 41",
        )
        .await;
    chrome.click(".banner-kill button[type='submit']").await;
    let done = chrome
        .wait_for(".flash-success")
        .await
        .text()
        .await
        .unwrap();
    assert!(done.contains("Acknowledged the emergency kill"), "{done}");
    let banners = chrome
        .client
        .find_all(fantoccini::Locator::Css(".banner-kill"))
        .await
        .unwrap();
    assert!(banners.is_empty(), "acknowledged: no banner");
    chrome.quit().await;
}

#[tokio::test]
async fn copying_targeting_from_staging_to_production_opens_a_request() {
    let app = TestApp::spawn().await;
    app.admin().api.new_flag(PROJECT, "checkout").await;
    let editor = app.user("editor");
    let strategies = json!([{
        "name": "flexibleRollout",
        "parameters": {"rollout": "25", "stickiness": "default", "groupId": "checkout"},
        "constraints": [{"contextName": "country", "operator": "IN", "values": ["DE", "NL"]}]
    }]);
    let path =
        format!("/api/admin/projects/{PROJECT}/flags/checkout/environments/staging/strategies");
    let r = editor.api.send(Method::PUT, &path, Some(&strategies)).await;
    assert_eq!(r.status(), StatusCode::OK);

    let chrome = Chrome::start(&app.base).await;
    chrome.client.set_window_size(1440, 900).await.unwrap();
    sign_in_as(&chrome, &editor.email, "governance-copy-login").await;
    chrome.goto(&format!("{FLAG}/targeting?env=staging")).await;
    chrome.wait_for("#copy-target").await;
    shots(&chrome, "copy-form").await;
    chrome
        .click("#copy-target option[value='production']")
        .await;
    chrome
        .click("form[action$='/targeting/copy'] button[type='submit']")
        .await;
    chrome.wait_for(".flash-success").await;
    let id = request_id(&chrome.path().await);
    let text = chrome.body_text().await;
    assert!(text.contains("gets the targeting of staging"), "{text}");
    shots(&chrome, "copy-request").await;

    let cr: Value = editor.api.change_request(id).await.json().await.unwrap();
    assert_eq!(cr["changeRequest"]["environment"], "production", "{cr}");
    assert_eq!(cr["changeRequest"]["state"], "draft", "{cr}");
    assert_eq!(
        cr["changeRequest"]["items"][0]["kind"], "strategies",
        "{cr}"
    );
    let live =
        format!("/api/admin/projects/{PROJECT}/flags/checkout/environments/production/strategies");
    let t: Value = editor.api.get(&live).await.json().await.unwrap();
    assert_eq!(
        t["targeting"]["strategies"],
        json!([]),
        "nothing applied yet"
    );
    chrome.quit().await;
}

#[tokio::test]
async fn the_inbox_closed_tab_and_a_stale_draft_at_both_sizes() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    admin.api.new_flag(PROJECT, "search").await;
    let editor = app.user("editor");
    let approver = app.user("approver");
    let staged = |key: &'static str| {
        let api = editor.api.clone();
        async move {
            let r = api.toggle(PROJECT, key, "production", true).await;
            let body: Value = r.json().await.unwrap();
            body["changeRequest"]["id"].as_i64().unwrap()
        }
    };
    let applied = staged("checkout").await;
    let submit = json!({"title": "Launch checkout", "reason": "QA signed off"});
    let r = editor
        .api
        .change_request_step(applied, "submit", Some(&submit))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    for verb in ["approve", "apply"] {
        let r = approver.api.change_request_step(applied, verb, None).await;
        assert_eq!(r.status(), StatusCode::OK, "{verb}");
    }
    let stale = staged("search").await;
    let mut db = app.sql().await;
    switchyard::db::query(
        "update change_requests set updated_at = '2020-01-01T00:00:00.000Z' where id = ?",
    )
    .bind(stale)
    .execute(&mut db)
    .await
    .unwrap();

    let chrome = Chrome::start(&app.base).await;
    chrome.client.set_window_size(1440, 900).await.unwrap();
    sign_in_as(&chrome, &approver.email, "governance-inbox-login").await;
    chrome.goto("/change-requests?tab=closed").await;
    chrome
        .wait_for(&format!("a[href='/change-requests/{applied}']"))
        .await;
    shots(&chrome, "inbox-closed").await;
    chrome.goto("/change-requests?tab=open").await;
    chrome.wait_for(".badge-stale").await;
    shots(&chrome, "inbox-stale-draft").await;
    crate::browser::click_and_confirm(
        &chrome,
        &format!("form[action='/change-requests/{stale}/cancel'] button"),
    )
    .await;
    let done = chrome
        .wait_for(".flash-success")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        done.contains(&format!("Cancelled the draft #{stale}")),
        "{done}"
    );
    chrome.quit().await;
}
