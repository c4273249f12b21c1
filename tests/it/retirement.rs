//! Retiring flags (issue 12, item 4): archiving is refused while active flags depend on the flag
//! (API, web, import), archive records its outcome and reason, archived flags are read-only,
//! and the Lifecycle tab's retirement checklist judges each item on live evidence.

use crate::support::clock::TestClock;
use crate::support::{assert_success, Api, TestApp, ADMIN_EMAIL, PROJECT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub(crate) async fn status_json(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub(crate) fn flag_path(key: &str) -> String {
    format!("/api/admin/projects/{PROJECT}/flags/{key}")
}

async fn depend(api: &Api, child: &str, parent: &str) {
    let body = json!([{ "feature": parent }]);
    let path = format!("{}/dependencies", flag_path(child));
    let (status, body) = status_json(api.send(Method::PUT, &path, Some(&body)).await).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "{child} depends on {parent}: {body}"
    );
}

async fn archived(api: &Api, key: &str) -> bool {
    api.flag_json(PROJECT, key).await["flag"]["archivedAt"].is_string()
}

#[tokio::test]
async fn archiving_a_flag_active_flags_depend_on_is_refused_naming_them() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    for key in ["payments", "checkout-v2", "cart-v2", "old-cart"] {
        admin.api.new_flag(PROJECT, key).await;
    }
    for child in ["checkout-v2", "cart-v2", "old-cart"] {
        depend(&admin.api, child, "payments").await;
    }
    let r = admin.api.archive(PROJECT, "old-cart").await;
    assert_eq!(r.status(), StatusCode::OK, "nothing depends on old-cart");

    // The API: 409, naming the active dependents (not the archived one), nothing changed.
    let before = app.audit_count().await;
    let (status, body) = status_json(admin.api.archive(PROJECT, "payments").await).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "flag-has-dependents");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("cart-v2, checkout-v2") && !message.contains("old-cart"),
        "{message}"
    );
    assert!(!archived(&admin.api, "payments").await);
    assert_eq!(app.audit_count().await, before, "nothing audited");

    // The web app: the message on the flag page, nothing changed.
    let browser = app.signed_in(ADMIN_EMAIL).await;
    let csrf = browser.csrf().await;
    let page = format!("/projects/{PROJECT}/flags/payments");
    let r = browser
        .post_form(
            &format!("{page}/archive"),
            &[("csrf_token", &csrf), ("reason", "done")],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], page.as_str());
    let html = browser.get(&page).await.text().await.unwrap();
    assert!(
        html.contains("active flags depend on it: cart-v2, checkout-v2"),
        "{html}"
    );
    assert!(!archived(&admin.api, "payments").await);
    assert_eq!(app.audit_count().await, before);

    // Once they are gone, it archives.
    for child in ["checkout-v2", "cart-v2"] {
        assert_eq!(
            admin.api.archive(PROJECT, child).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        admin.api.archive(PROJECT, "payments").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_import_that_archives_a_flag_active_flags_depend_on_is_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    for key in ["payments", "checkout-v2"] {
        admin.api.new_flag(PROJECT, key).await;
    }
    depend(&admin.api, "checkout-v2", "payments").await;
    let out = app.cli(&["export", "--project", PROJECT]);
    assert_success(&out, "export");
    let mut doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    for f in doc["flags"].as_array_mut().unwrap() {
        if f["key"] == "payments" {
            f["archived"] = true.into();
        }
    }
    let file = app.dir().join("doc.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let before = app.audit_count().await;
    let import = [
        "import",
        "--project",
        PROJECT,
        "--format",
        "switchyard",
        file.to_str().unwrap(),
    ];
    let out = app.cli(&import);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("active flags depend on it: checkout-v2"),
        "{stderr}"
    );
    assert!(!archived(&admin.api, "payments").await);
    assert_eq!(app.audit_count().await, before, "nothing written");

    // Archiving the dependent in the same document is fine.
    for f in doc["flags"].as_array_mut().unwrap() {
        f["archived"] = true.into();
    }
    std::fs::write(&file, doc.to_string()).unwrap();
    // (Archiving takes them out of production's feed: that needs the operator's override.)
    let mut both = import.to_vec();
    both.insert(1, "--allow-protected");
    assert_success(&app.cli(&both), "import archiving both");
    assert!(archived(&admin.api, "payments").await);
}

#[tokio::test]
async fn archive_records_outcome_and_reason_and_archived_flags_are_read_only() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "banner").await;
    admin.api.new_flag(PROJECT, "promo").await;
    let archive = |key: &str| format!("{}/archive", flag_path(key));

    let bad = json!({"outcome": "shipped"});
    let (status, body) = status_json(
        admin
            .api
            .send(Method::POST, &archive("banner"), Some(&bad))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "outcome");
    let unknown = json!({"why": "x"});
    let r = admin
        .api
        .send(Method::POST, &archive("banner"), Some(&unknown))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "unknown fields");
    assert!(!archived(&admin.api, "banner").await);

    let note = json!({"outcome": "discarded", "reason": "the campaign was cancelled"});
    let (status, body) = status_json(
        admin
            .api
            .send(Method::POST, &archive("banner"), Some(&note))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["flag"]["archivedAt"].is_string());
    let audit: Value = admin
        .api
        .audit("action=flag.archived&flag=banner")
        .await
        .json()
        .await
        .unwrap();
    let entry = &audit["entries"][0];
    assert_eq!(
        entry["after"],
        json!({"archived": true, "outcome": "discarded"})
    );
    assert_eq!(entry["reason"], "the campaign was cancelled");

    // Through the web form, from the Lifecycle tab.
    let browser = app.signed_in(ADMIN_EMAIL).await;
    let csrf = browser.csrf().await;
    let r = browser
        .post_form(
            &format!("/projects/{PROJECT}/flags/promo/archive"),
            &[
                ("csrf_token", &csrf),
                ("outcome", "kept"),
                ("reason", "shipped in 4.2"),
                ("from", "lifecycle"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let audit: Value = admin
        .api
        .audit("action=flag.archived&flag=promo")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["entries"][0]["after"]["outcome"], "kept");
    assert_eq!(audit["entries"][0]["reason"], "shipped in 4.2");
    let tab = browser
        .get(&format!("/projects/{PROJECT}/flags/promo?tab=lifecycle"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        tab.contains("<strong>released and kept</strong>") && tab.contains("“shipped in 4.2”"),
        "the archived flag's tab shows how it was retired: {tab}"
    );
    assert!(!tab.contains("Retirement checklist"));

    // Where it is live in a protected environment, the archive waits in a change request that
    // carries the outcome and reason, and records them when applied.
    admin.api.new_flag(PROJECT, "live-one").await;
    admin
        .api
        .force_toggle(PROJECT, "live-one", "production", true)
        .await;
    let path = format!("{}/archive", flag_path("live-one"));
    let note = json!({"outcome": "kept", "reason": "everyone has it"});
    admin.api.force(Method::POST, &path, Some(&note)).await;
    let audit: Value = admin
        .api
        .audit("action=flag.archived&flag=live-one")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["entries"][0]["after"]["outcome"], "kept");
    assert_eq!(audit["entries"][0]["reason"], "everyone has it");

    // Read-only: edits are refused with a clear message, and nothing changes.
    let (status, body) = status_json(
        admin
            .api
            .patch(PROJECT, "banner", &json!({"description": "x"}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["message"],
        "the flag banner is archived; revive it before changing it"
    );
    let (status, body) = status_json(
        admin
            .api
            .toggle(PROJECT, "banner", "development", true)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let strategies = json!([{"name": "default"}]);
    let path = format!(
        "{}/environments/development/strategies",
        flag_path("banner")
    );
    let (status, _) =
        status_json(admin.api.send(Method::PUT, &path, Some(&strategies)).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let done = json!({"outcome": "kept"});
    let path = format!("{}/complete", flag_path("banner"));
    let (status, _) = status_json(admin.api.send(Method::POST, &path, Some(&done)).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let f = admin.api.flag_json(PROJECT, "banner").await;
    assert_eq!(f["flag"]["description"], "");

    // Reviving brings it back, off everywhere, and editable.
    assert_eq!(
        admin.api.revive(PROJECT, "banner").await.status(),
        StatusCode::OK
    );
    let r = admin
        .api
        .patch(PROJECT, "banner", &json!({"description": "back"}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// Polls until `check` holds (usage and SDK reports are written in the background).
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The verdict of one checklist item on the Lifecycle tab (`pass`, `fail`, `unknown`).
fn verdict(html: &str, item: &str) -> String {
    let at = format!("data-check=\"{item}\" data-verdict=\"");
    let Some(start) = html.find(&at) else {
        panic!("no checklist item {item}: {html}");
    };
    let rest = &html[start + at.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// The text of one checklist item, for its evidence.
fn item_text<'a>(html: &'a str, item: &str) -> &'a str {
    let start = html.find(&format!("data-check=\"{item}\"")).unwrap();
    let end = html[start..].find("</li>").unwrap();
    &html[start..start + end]
}

async fn client_post(app: &TestApp, token: &str, path: &str, body: Value) {
    let r = reqwest::Client::new()
        .post(app.url(path))
        .header("Authorization", token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED, "{path}");
}

async fn sdk_reports(app: &TestApp, token: &str) {
    let body = json!({"appName": "shop", "instanceId": "i-1", "sdkVersion": "unleash-node-sdk:6.1.0",
        "strategies": [], "started": "2026-03-02T09:00:00Z", "interval": 15000});
    client_post(app, token, "/api/client/register", body).await;
}

async fn sdk_evaluates(app: &TestApp, token: &str, key: &str, at: chrono::DateTime<chrono::Utc>) {
    let start = at.format("%Y-%m-%dT%H:00:00Z").to_string();
    let body = json!({"appName": "shop", "instanceId": "i-1", "bucket": {
        "start": start, "stop": start, "toggles": {key: {"yes": 3, "no": 1}}}});
    client_post(app, token, "/api/client/metrics", body).await;
}

/// Each item of the checklist fails (or is unknown) on live evidence, and passes once the
/// evidence says so: a scan without the key, no evaluation for the project's quiet days while
/// an SDK reports, no active dependent, no open change request.
#[tokio::test]
async fn the_retirement_checklist_judges_each_item_on_live_evidence() {
    let clock = TestClock::at("2026-03-02T09:00:00Z");
    let app = TestApp::spawn_with_env(&[clock.env()]).await;
    let admin = app.admin();
    for key in ["retire-me", "child"] {
        let r = admin
            .api
            .create_flag(PROJECT, &json!({"key": key, "owner": ADMIN_EMAIL}))
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    depend(&admin.api, "child", "retire-me").await;
    admin
        .api
        .toggle(PROJECT, "retire-me", "development", true)
        .await;
    let (status, body) = status_json(
        admin
            .api
            .toggle(PROJECT, "retire-me", "production", true)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let cr = body["changeRequest"]["id"].as_i64().unwrap();
    let path = format!("{}/complete", flag_path("retire-me"));
    let done = json!({"outcome": "kept", "variant": "on"});
    let (status, _) = status_json(admin.api.send(Method::POST, &path, Some(&done)).await).await;
    assert_eq!(status, StatusCode::OK);

    let dev = app.feed_token("client", PROJECT, "development");
    eventually("the token reaches the feed", || async {
        reqwest::Client::new()
            .get(app.url("/api/client/features"))
            .header("Authorization", &dev)
            .send()
            .await
            .unwrap()
            .status()
            == StatusCode::OK
    })
    .await;
    clock.set_day(1);
    sdk_reports(&app, &dev).await;
    sdk_evaluates(&app, &dev, "retire-me", clock.day(1)).await;

    let tab = format!("/projects/{PROJECT}/flags/retire-me?tab=lifecycle");
    // Signed in afresh each time: a session does not outlive days of idle test clock.
    let page = || async {
        let browser = app.signed_in(ADMIN_EMAIL).await;
        browser.get(&tab).await.text().await.unwrap()
    };
    eventually("the evaluation is recorded", || async {
        verdict(&page().await, "evaluations") == "fail"
    })
    .await;
    let html = page().await;
    assert!(html.contains("Retirement checklist"), "{html}");
    assert_eq!(verdict(&html, "code-references"), "unknown", "no scan yet");
    assert!(item_text(&html, "code-references").contains("No repository has been scanned"));
    assert!(item_text(&html, "evaluations").contains("in development"));
    assert_eq!(verdict(&html, "dependents"), "fail");
    assert!(item_text(&html, "dependents")
        .contains(&format!("href=\"/projects/{PROJECT}/flags/child\"")));
    assert_eq!(verdict(&html, "change-requests"), "fail");
    assert!(
        item_text(&html, "change-requests").contains(&format!("href=\"/change-requests/{cr}\""))
    );
    assert!(html.contains("0 of 4 checks passed"), "{html}");
    assert!(
        html.contains("Archiving is refused while active flags depend"),
        "{html}"
    );

    // The evidence changes: a scan finds nothing, the request is cancelled, the child goes.
    let tree = tempfile::tempdir().unwrap();
    let repo = tree.path().join("shop");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("cart.js"), "if (unleash.isEnabled('child')) {}\n").unwrap();
    let out = app.cli(&["scan", "--project", PROJECT, repo.to_str().unwrap()]);
    assert_success(&out, "scan");
    let r = admin.api.change_request_step(cr, "cancel", None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        admin.api.archive(PROJECT, "child").await.status(),
        StatusCode::OK
    );
    let html = page().await;
    assert_eq!(verdict(&html, "code-references"), "pass");
    assert!(item_text(&html, "code-references").contains("no references"));
    assert_eq!(verdict(&html, "dependents"), "pass");
    assert_eq!(verdict(&html, "change-requests"), "pass");

    // Seven quiet days (the project's default) pass only while an SDK was reporting.
    clock.set(clock.day(8) + chrono::Duration::hours(1));
    let html = page().await;
    assert_eq!(
        verdict(&html, "evaluations"),
        "unknown",
        "no SDK reported since day 1"
    );
    sdk_reports(&app, &dev).await;
    eventually("the SDK's report is recorded", || async {
        verdict(&page().await, "evaluations") == "pass"
    })
    .await;
    let html = page().await;
    assert!(html.contains("4 of 4 checks passed"), "{html}");
    assert!(item_text(&html, "evaluations").contains("shop"));
    // One hour earlier, day 1's evaluation was still inside the window.
    clock.set(clock.day(8));
    assert_eq!(verdict(&page().await, "evaluations"), "fail");

    // The quiet days are the project's setting.
    let settings = format!("/api/admin/projects/{PROJECT}/lifecycle");
    let (status, body) = status_json(admin.api.get(&settings).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["lifecycle"]["retirementQuietDays"], 7, "{body}");
    let (status, body) = status_json(
        admin
            .api
            .send(
                Method::PUT,
                &settings,
                Some(&json!({"retirementQuietDays": 0})),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = status_json(
        admin
            .api
            .send(
                Method::PUT,
                &settings,
                Some(&json!({"retirementQuietDays": 30})),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    clock.set(clock.day(9));
    assert_eq!(verdict(&page().await, "evaluations"), "fail");
}

/// The features a client token of development is served, by name.
async fn served(app: &TestApp, token: &str) -> Vec<String> {
    let r = reqwest::Client::new()
        .get(app.url("/api/client/features"))
        .header("Authorization", token)
        .send()
        .await
        .unwrap();
    if r.status() != StatusCode::OK {
        return vec![];
    }
    let body: Value = r.json().await.unwrap();
    body["features"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["name"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// In real Chromium: a completed flag's Lifecycle tab shows the checklist; archiving through it
/// (with a reason) takes the flag out of the SDK feed.
#[tokio::test]
async fn a_completed_flag_is_archived_through_the_checklist_and_leaves_the_feed() {
    use crate::browser::{click_and_confirm, sign_in_as};
    use crate::support::browser::Chrome;
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "old-banner").await;
    admin
        .api
        .toggle(PROJECT, "old-banner", "development", true)
        .await;
    let path = format!("{}/complete", flag_path("old-banner"));
    let done = json!({"outcome": "kept", "note": "shipped"});
    let (status, _) = status_json(admin.api.send(Method::POST, &path, Some(&done)).await).await;
    assert_eq!(status, StatusCode::OK);
    let dev = app.feed_token("client", PROJECT, "development");
    eventually("the feed serves the flag", || async {
        served(&app, &dev).await.contains(&"old-banner".to_string())
    })
    .await;

    let chrome = Chrome::start(&app.base).await;
    sign_in_as(&chrome, ADMIN_EMAIL, "retire-01-login").await;
    chrome
        .goto(&format!(
            "/projects/{PROJECT}/flags/old-banner?tab=lifecycle"
        ))
        .await;
    chrome
        .wait_for("#retirement [data-check='dependents']")
        .await;
    chrome.screenshot("retire-02-checklist").await;
    let text = chrome.body_text().await;
    assert!(text.contains("Retirement checklist"), "{text}");
    assert!(text.contains("No dependent flags still active"), "{text}");
    chrome
        .fill(
            "#retirement input[name='reason']",
            "removed from the code in 4.3",
        )
        .await;
    click_and_confirm(&chrome, "#retirement button[type='submit']").await;
    chrome.wait_for(".flash-success").await;
    chrome.screenshot("retire-03-archived").await;
    assert!(chrome.body_text().await.contains("old-banner archived."));
    assert_eq!(
        chrome.path().await,
        format!("/projects/{PROJECT}/flags/old-banner")
    );
    chrome.quit().await;

    eventually("the feed no longer serves it", || async {
        !served(&app, &dev).await.contains(&"old-banner".to_string())
    })
    .await;
    let audit: Value = admin
        .api
        .audit("action=flag.archived&flag=old-banner")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["entries"][0]["after"]["outcome"], "kept");
    assert_eq!(
        audit["entries"][0]["reason"],
        "removed from the code in 4.3"
    );
}
