//! Journeys in a real headless Chromium (issue 2): the forms, htmx swaps, CSP and escaping as a
//! browser sees them. Screenshots of each step land in `target/screenshots/`.

use crate::support::browser::Chrome;
use crate::support::{TestApp, ADMIN_EMAIL, PASSWORD, PROJECT};
use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Signs in through the real login form and waits for the signed-in header.
async fn sign_in(chrome: &Chrome, shot: &str) {
    chrome.goto("/login").await;
    chrome.fill("#email", ADMIN_EMAIL).await;
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
