//! Journeys in a real headless Chromium (issue 2): the forms, htmx swaps, CSP and escaping as a
//! browser sees them. Screenshots of each step land in `target/screenshots/`.

use crate::support::browser::Chrome;
use crate::support::{TestApp, ADMIN_EMAIL, PASSWORD, PROJECT};
use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Signs in through the real login form and waits for the signed-in header.
async fn sign_in(chrome: &Chrome, shot: &str) {
    sign_in_as(chrome, ADMIN_EMAIL, shot).await;
}

pub(crate) async fn sign_in_as(chrome: &Chrome, email: &str, shot: &str) {
    chrome.goto("/login").await;
    chrome.fill("#email", email).await;
    chrome.fill("#password", PASSWORD).await;
    chrome.screenshot(shot).await;
    chrome
        .click("form[action='/login'] button[type='submit']")
        .await;
    chrome.wait_for(".topnav-user").await;
}

/// `(environment, enabled)` pairs of a flag read through the admin API, sorted.
fn env_states(flag: &Value) -> Vec<(String, bool)> {
    let mut states: Vec<(String, bool)> = flag["flag"]["environments"]
        .as_array()
        .unwrap_or_else(|| panic!("no environments in {flag}"))
        .iter()
        .map(|e| {
            (
                e["environment"].as_str().unwrap().to_string(),
                e["enabled"].as_bool().unwrap(),
            )
        })
        .collect();
    states.sort();
    states
}

#[tokio::test]
async fn admin_creates_a_project_and_flag_switches_it_on_and_finds_it_in_the_audit_log() {
    let app = TestApp::spawn().await;
    let chrome = Chrome::start(&app.base).await;

    // Sign in.
    sign_in(&chrome, "journey-01-login").await;
    chrome.screenshot("journey-02-home").await;

    // A project, through the "New project" form.
    chrome.goto("/projects").await;
    chrome.click("a[href='/projects/new']").await;
    chrome
        .fill("form[action='/projects'] #key", "mobile-app")
        .await;
    chrome
        .fill("form[action='/projects'] #name", "Mobile app")
        .await;
    chrome
        .fill(
            "form[action='/projects'] #description",
            "The iOS and Android apps.",
        )
        .await;
    chrome.screenshot("journey-03-new-project").await;
    chrome
        .click("form[action='/projects'] button[type='submit']")
        .await;
    // Only the project's own page links to its flags with a button.
    chrome
        .wait_for("a.btn[href='/projects/mobile-app/flags']")
        .await;
    assert_eq!(chrome.path().await, "/projects/mobile-app");
    chrome.screenshot("journey-04-project").await;

    // A flag, through the project's catalog and its "New flag" form.
    chrome
        .click("a.btn[href='/projects/mobile-app/flags']")
        .await;
    chrome
        .click("a[href='/projects/mobile-app/flags/new']")
        .await;
    let form = "form[action='/projects/mobile-app/flags']";
    chrome.fill(&format!("{form} #key"), "dark-mode").await;
    chrome.fill(&format!("{form} #name"), "Dark mode").await;
    chrome
        .fill(
            &format!("{form} #description"),
            "Follows the system colour scheme.",
        )
        .await;
    chrome.fill(&format!("{form} #tags"), "ui, theme").await;
    chrome.screenshot("journey-05-new-flag").await;
    chrome.click(&format!("{form} button[type='submit']")).await;
    let switch = "#env-development button.switch";
    chrome.wait_for(switch).await;
    assert_eq!(chrome.path().await, "/projects/mobile-app/flags/dark-mode");
    for env in ["development", "staging", "production"] {
        let pressed = chrome
            .wait_for(&format!("#env-{env} button.switch"))
            .await
            .attr("aria-pressed")
            .await
            .unwrap();
        assert_eq!(pressed.as_deref(), Some("false"), "{env} starts off");
    }
    chrome.screenshot("journey-06-flag").await;

    // Switch development on. htmx swaps the row in place: a marker set on the window survives
    // only if the page was not reloaded.
    chrome.wait_until("window.htmx !== undefined").await;
    chrome
        .client
        .execute("window.__sameDocument = true;", vec![])
        .await
        .unwrap();
    chrome.click(switch).await;
    let on = chrome
        .wait_for("#env-development button.switch[aria-pressed='true']")
        .await;
    assert_eq!(on.text().await.unwrap(), "On");
    assert_eq!(
        on.attr("aria-label").await.unwrap().as_deref(),
        Some("development: on, switch off")
    );
    let same_document = chrome
        .client
        .execute("return window.__sameDocument === true;", vec![])
        .await
        .unwrap();
    assert_eq!(same_document, json!(true), "the switch reloaded the page");
    chrome.screenshot("journey-07-switched-on").await;

    // It persisted: after a reload, and through the admin API.
    chrome.client.refresh().await.unwrap();
    chrome
        .wait_for("#env-development button.switch[aria-pressed='true']")
        .await;
    for env in ["staging", "production"] {
        let pressed = chrome
            .wait_for(&format!("#env-{env} button.switch"))
            .await
            .attr("aria-pressed")
            .await
            .unwrap();
        assert_eq!(pressed.as_deref(), Some("false"), "{env} stays off");
    }
    chrome.screenshot("journey-08-after-reload").await;
    let api = app.api(Some(app.admin_token("mobile-app", ADMIN_EMAIL)));
    let flag = api.flag_json("mobile-app", "dark-mode").await;
    assert_eq!(flag["flag"]["name"], "Dark mode");
    assert_eq!(
        env_states(&flag),
        [
            ("development".to_string(), true),
            ("production".to_string(), false),
            ("staging".to_string(), false),
        ]
    );

    // The audit log, filtered to the flag, shows who switched it on, and where.
    chrome
        .goto("/audit?project=mobile-app&flag=dark-mode")
        .await;
    chrome.wait_for("#audit-results tbody tr").await;
    chrome.screenshot("journey-09-audit").await;
    let rows = chrome
        .client
        .find_all(Locator::Css("#audit-results tbody tr"))
        .await
        .unwrap();
    let mut actions = Vec::new();
    let mut enabled_in_development = Vec::new();
    for row in &rows {
        let action = row
            .find(Locator::Css("code"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let text = row.text().await.unwrap();
        assert!(text.contains("dark-mode"), "filtered to the flag: {text}");
        let envs = row.find_all(Locator::Css("[data-env]")).await.unwrap();
        let mut in_development = false;
        for e in envs {
            in_development |= e.attr("data-env").await.unwrap().as_deref() == Some("development");
        }
        if action == "flag.enabled" && in_development {
            enabled_in_development.push(text);
        }
        actions.push(action);
    }
    assert_eq!(
        enabled_in_development.len(),
        1,
        "one flag.enabled entry in development; actions shown: {actions:?}"
    );
    assert!(
        enabled_in_development[0].contains(ADMIN_EMAIL)
            || enabled_in_development[0].contains("admin"),
        "the entry names the admin: {}",
        enabled_in_development[0]
    );
    assert!(
        actions.contains(&"flag.created".to_string()),
        "the creation is logged too: {actions:?}"
    );

    chrome.quit().await;
}

#[tokio::test]
async fn xss_payloads_render_as_text() {
    let app = TestApp::spawn().await;
    let admin = app.admin().api;
    let name = r#"<script>alert(1)</script> "><img src=x onerror=alert(1)>"#;
    let description = r#"desc "><img src=x onerror=alert(2)> <script>alert(3)</script> & é"#;
    let r = admin
        .create_flag(
            PROJECT,
            &json!({"key": "xss-probe", "name": name, "description": description}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let chrome = Chrome::start(&app.base).await;
    sign_in(&chrome, "xss-01-login").await;

    let pages = [
        (
            "xss-02-project-catalog",
            format!("/projects/{PROJECT}/flags"),
        ),
        ("xss-03-all-flags", "/flags".to_string()),
        (
            "xss-04-flag",
            format!("/projects/{PROJECT}/flags/xss-probe"),
        ),
    ];
    for (shot, path) in &pages {
        chrome.goto(path).await;
        // An open dialog blocks every other command, so ask about it first.
        assert_eq!(chrome.open_alert().await, None, "an alert opened on {path}");
        chrome
            .wait_for(&format!(
                "a[href='/projects/{PROJECT}/flags/xss-probe'], h1 .key"
            ))
            .await;
        chrome.screenshot(shot).await;
        let text = chrome.body_text().await;
        assert!(
            text.contains(name),
            "{path} shows the name as text:\n{text}"
        );
        if path.ends_with("xss-probe") {
            assert!(
                text.contains(description),
                "{path} shows the description as text:\n{text}"
            );
        }
        // Nothing from the payload became markup.
        let injected = chrome
            .client
            .execute(
                "return document.querySelectorAll('img[src=\"x\"], script:not([src]), [onerror]').length;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(injected, json!(0), "{path} grew elements from the payload");
        assert_eq!(chrome.open_alert().await, None, "an alert opened on {path}");
    }

    chrome.quit().await;
}

/// Clicks a submit button whose form asks `window.confirm` first (`data-confirm`), and accepts
/// the dialog once it opens.
pub(crate) async fn click_and_confirm(chrome: &Chrome, css: &str) {
    chrome.click(css).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while chrome.open_alert().await.is_none() {
        assert!(
            Instant::now() < deadline,
            "no confirmation opened after clicking `{css}` on {}",
            chrome.path().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    chrome.client.accept_alert().await.unwrap();
}

/// The change request id in a `/change-requests/{id}` path.
fn request_id(path: &str) -> i64 {
    path.strip_prefix("/change-requests/")
        .and_then(|rest| rest.split(['?', '/']).next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not a change request page: {path}"))
}

/// The flag's strategies as `/api/client/features` serves them to a production client token,
/// once they show a flexible rollout of `rollout` (≤ 5 s after the token is accepted).
async fn feed_shows_rollout(app: &TestApp, token: &str, key: &str, rollout: &str) -> Value {
    let http = reqwest::Client::new();
    let get = || async {
        http.get(app.url("/api/client/features"))
            .header("Authorization", token)
            .send()
            .await
            .unwrap()
    };
    let accepted = Instant::now() + Duration::from_secs(15);
    while get().await.status() != StatusCode::OK {
        assert!(
            Instant::now() < accepted,
            "the feed never accepted the token"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let body: Value = get().await.json().await.unwrap();
        let feature = body["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == key)
            .cloned()
            .unwrap_or(Value::Null);
        let shows = feature["strategies"].as_array().is_some_and(|s| {
            s.iter()
                .any(|s| s["name"] == "flexibleRollout" && s["parameters"]["rollout"] == rollout)
        });
        if shows {
            return feature;
        }
        assert!(
            Instant::now() < deadline,
            "the feed never showed a {rollout} % rollout of {key}: {feature}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn editor_proposes_a_production_rollout_and_an_approver_applies_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "new-checkout").await;
    let r = admin
        .api
        .set_protection(PROJECT, "production", true, 1)
        .await;
    assert_eq!(r.status(), StatusCode::OK, "protect production");
    let editor = app.user("editor");
    let approver = app.user("approver");
    let token = app.feed_token("client", PROJECT, "production");

    // Two people, two browsers (separate profiles, so separate sessions).
    let (editor_chrome, approver_chrome) =
        tokio::join!(Chrome::start(&app.base), Chrome::start(&app.base));

    // The editor sets a 25 % rollout on production's Targeting tab.
    sign_in_as(&editor_chrome, &editor.email, "four-eyes-01-editor-login").await;
    let targeting = format!("/projects/{PROJECT}/flags/new-checkout/targeting?env=production");
    editor_chrome.goto(&targeting).await;
    let pick = editor_chrome.wait_for("select#new_strategy").await;
    pick.select_by_value("flexibleRollout").await.unwrap();
    editor_chrome.screenshot("four-eyes-02-targeting").await;
    editor_chrome
        .click("button[name='action'][value='add-strategy']")
        .await;
    editor_chrome.fill("input[name='s0.rollout']", "25").await;
    editor_chrome.screenshot("four-eyes-03-rollout-25").await;
    editor_chrome
        .click("button.btn-primary[name='action'][value='save']")
        .await;

    // Saving lands on the draft change request, nothing applied yet.
    editor_chrome.wait_for("form[action$='/submit']").await;
    let path = editor_chrome.path().await;
    let id = request_id(&path);
    let text = editor_chrome.body_text().await;
    assert!(
        text.contains(&format!("Added to your draft change request #{id}")),
        "no flash on {path}:\n{text}"
    );
    editor_chrome.screenshot("four-eyes-04-draft").await;
    let live = admin
        .api
        .get(&format!(
            "/api/admin/projects/{PROJECT}/flags/new-checkout/environments/production/strategies"
        ))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        live["targeting"]["strategies"],
        json!([]),
        "nothing applied"
    );

    // ... and submits it with a title and a reason.
    editor_chrome
        .fill("#title", "Roll the new checkout out to a quarter")
        .await;
    editor_chrome
        .fill("#reason", "Staging looked good for a week.")
        .await;
    editor_chrome.screenshot("four-eyes-05-submit").await;
    editor_chrome
        .click(&format!(
            "form[action='/change-requests/{id}/submit'] button[type='submit']"
        ))
        .await;
    editor_chrome
        .wait_until("!document.querySelector(\"form[action$='/submit']\")")
        .await;
    editor_chrome.screenshot("four-eyes-06-submitted").await;
    let cr: Value = admin.api.change_request(id).await.json().await.unwrap();
    assert_eq!(cr["changeRequest"]["state"], "in-review", "{cr}");

    // The approver, in the other browser, finds it waiting for their approval.
    sign_in_as(
        &approver_chrome,
        &approver.email,
        "four-eyes-07-approver-login",
    )
    .await;
    approver_chrome.goto("/change-requests").await;
    let link =
        format!("section[aria-label='Waiting for my approval'] a[href='/change-requests/{id}']");
    approver_chrome.wait_for(&link).await;
    let text = approver_chrome.body_text().await;
    assert!(
        text.contains("Roll the new checkout out to a quarter"),
        "the inbox shows the title:\n{text}"
    );
    approver_chrome.screenshot("four-eyes-08-inbox").await;
    approver_chrome.click(&link).await;
    let approve = format!("form[action='/change-requests/{id}/approve'] button[type='submit']");
    approver_chrome.wait_for(&approve).await;
    let text = approver_chrome.body_text().await;
    assert!(
        text.contains("Staging looked good"),
        "the request page shows the reason:\n{text}"
    );
    approver_chrome.screenshot("four-eyes-09-request").await;
    approver_chrome.click(&approve).await;
    let apply = format!("form[action='/change-requests/{id}/apply'] button[type='submit']");
    approver_chrome.wait_for(&apply).await;
    approver_chrome.screenshot("four-eyes-10-approved").await;
    click_and_confirm(&approver_chrome, &apply).await;
    approver_chrome
        .wait_until(&format!(
            "!document.querySelector(\"form[action='/change-requests/{id}/apply']\")"
        ))
        .await;
    approver_chrome.screenshot("four-eyes-11-applied").await;
    let cr: Value = admin.api.change_request(id).await.json().await.unwrap();
    assert_eq!(cr["changeRequest"]["state"], "applied", "{cr}");

    // The production feed serves the 25 % rollout.
    let feature = feed_shows_rollout(&app, &token, "new-checkout", "25").await;
    assert_eq!(
        feature["strategies"].as_array().unwrap().len(),
        1,
        "{feature}"
    );

    tokio::join!(editor_chrome.quit(), approver_chrome.quit());
}
