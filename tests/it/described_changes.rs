//! Changes in words everywhere a person reads them (issue 9, items 1 and 2): a change applied
//! through a request names it in the flag's history and on the audit page, request bookkeeping
//! stays off the history, and targeting changes and archiving read as sentences, never JSON.

use crate::support::browser::Chrome;
use crate::support::{Api, TestApp, ADMIN_EMAIL, PASSWORD, PROJECT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn status_json(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn put_strategies(api: &Api, env: &str, strategies: Value) -> (StatusCode, Value) {
    let path =
        format!("/api/admin/projects/{PROJECT}/flags/checkout/environments/{env}/strategies");
    status_json(api.send(Method::PUT, &path, Some(&strategies)).await).await
}

fn rollout(percent: &str, countries: &[&str]) -> Value {
    json!([{
        "name": "flexibleRollout",
        "parameters": {"rollout": percent, "stickiness": "default"},
        "constraints": [{"contextName": "country", "operator": "IN", "values": countries}]
    }])
}

/// The page without the auditors' raw disclosure, where the stored JSON is meant to be.
fn without_raw(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find("<details class=\"raw") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("</details>")
            .map_or(rest.len(), |e| start + e + 10);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Text is escaped in pages, so JSON shown as text would carry escaped quotes.
fn assert_no_json(html: &str, page: &str) {
    for raw in ["{&#34;", "&#34;:", "{&quot;", "&quot;:"] {
        assert!(!html.contains(raw), "{page} shows raw JSON ({raw}): {html}");
    }
}

/// Proposes a production rollout as the editor, submits it with a title and a reason, and has
/// the approver approve and apply it; returns the request's number, the editor and the approver.
async fn applied_request(app: &TestApp) -> (i64, String, String) {
    let editor = app.user("editor");
    let approver = app.user("approver");
    app.admin().api.new_flag(PROJECT, "checkout").await;

    let (status, body) = put_strategies(&editor.api, "production", rollout("30", &["DE"])).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["changeRequest"]["id"].as_i64().unwrap();
    let submit = json!({"title": "Launch checkout", "reason": "QA signed off"});
    let r = editor
        .api
        .change_request_step(id, "submit", Some(&submit))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = approver.api.change_request_step(id, "approve", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = approver.api.change_request_step(id, "apply", None).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    (id, editor.email, approver.email)
}

#[tokio::test]
async fn a_change_applied_through_a_request_names_it_in_the_flag_history() {
    let app = TestApp::spawn().await;
    let (id, editor, approver) = applied_request(&app).await;
    let admin = app.admin();

    let reader = app.signed_in(&admin.email).await;
    let history = reader
        .get("/projects/web/flags/checkout?tab=history")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        history.contains("Strategy added: Gradual rollout 30 % of users when country in DE"),
        "{history}"
    );
    assert!(
        history.contains(&format!(
            "href=\"/change-requests/{id}\">via change request #{id}</a>"
        )),
        "{history}"
    );
    assert!(
        history.contains(&format!(
            "proposed by {}, approved by {}, applied by {}",
            editor, approver, approver
        )),
        "{history}"
    );
    assert!(
        history.contains("“Launch checkout”: QA signed off"),
        "{history}"
    );
    for bookkeeping in [
        "change-request.change-added",
        "change-request.submitted",
        "change-request.applied",
    ] {
        assert!(
            !history.contains(bookkeeping),
            "{bookkeeping} in the flag's history: {history}"
        );
    }

    let audit = reader
        .get("/audit?flag=checkout")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        audit.contains(&format!("via change request #{id}")),
        "{audit}"
    );
    // The request page shows the environment's whole configuration before and after.
    let page = reader
        .get(&format!("/change-requests/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Configuration in production, before and after"),
        "{page}"
    );
    assert!(
        page.contains("No strategy: everyone gets the flag while it is on"),
        "{page}"
    );
    assert!(
        page.contains("Strategy: Gradual rollout 30 % of users when country in DE"),
        "{page}"
    );
}

#[tokio::test]
async fn targeting_changes_and_archiving_read_as_sentences_on_the_audit_page_and_home() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    for (percent, countries) in [("10", &["DE", "FR"][..]), ("25", &["DE", "FR", "NL"][..])] {
        let (status, body) =
            put_strategies(&admin.api, "development", rollout(percent, countries)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let r = admin.api.archive(PROJECT, "checkout").await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    let reader = app.signed_in(&admin.email).await;
    let audit = reader.get("/audit").await.text().await.unwrap();
    for said in [
        "Rollout 10 % → 25 %",
        "Country in DE, FR → DE, FR, NL",
        "Archived: no longer served to SDKs",
        "Strategy added: Gradual rollout 10 % of users when country in DE, FR",
    ] {
        assert!(
            audit.contains(said),
            "the audit page does not say {said:?}: {audit}"
        );
    }
    assert!(
        audit.contains("Raw entry"),
        "auditors keep the stored entry: {audit}"
    );
    assert_no_json(&without_raw(&audit), "the audit page");

    let home = reader.get("/").await.text().await.unwrap();
    assert!(home.contains("Rollout 10 % → 25 %"), "{home}");
    assert!(
        home.contains("Archived: no longer served to SDKs"),
        "{home}"
    );
    assert_no_json(&home, "the home page");

    // Newest first: the archive, recorded last, comes before the strategies.
    let archived = audit.find("Archived: no longer served").unwrap();
    let rollout = audit.find("Rollout 10 % → 25 %").unwrap();
    assert!(archived < rollout, "the audit page is not newest first");
}

#[tokio::test]
async fn in_a_browser_the_history_entry_names_the_request_and_links_to_it() {
    let app = TestApp::spawn().await;
    let (id, editor, approver) = applied_request(&app).await;
    let chrome = Chrome::start(&app.base).await;
    chrome.goto("/login").await;
    chrome.fill("#email", ADMIN_EMAIL).await;
    chrome.fill("#password", PASSWORD).await;
    chrome
        .click("form[action='/login'] button[type='submit']")
        .await;
    chrome.wait_for(".topnav-user").await;

    chrome
        .goto("/projects/web/flags/checkout?tab=history")
        .await;
    let via = chrome.wait_for(".history .via").await.text().await.unwrap();
    chrome.screenshot("described-history-via-request").await;
    assert!(
        via.starts_with(&format!(
            "via change request #{id} — proposed by {}",
            editor
        )),
        "{via}"
    );
    assert!(
        via.contains(&format!(
            "approved by {}, applied by {}",
            approver, approver
        )),
        "{via}"
    );
    assert!(via.contains("“Launch checkout”: QA signed off"), "{via}");
    chrome.click(".history .via a").await;
    chrome.wait_for("#config-title").await;
    assert_eq!(chrome.path().await, format!("/change-requests/{id}"));
    chrome.quit().await;
}
