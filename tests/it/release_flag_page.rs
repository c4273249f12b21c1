//! Rollout safety on the flag page: a switch the project's gradual-start rule refuses comes back
//! to the flag page saying why and what to do (nothing changed), and each environment row shows
//! the release plan under way there in brief, linking to its page.

use crate::browser::sign_in_as;
use crate::support::browser::Chrome;
use crate::support::{Api, Browser, TestApp, PROJECT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const FLAG: &str = "checkout";

fn flag_page() -> String {
    format!("/projects/{PROJECT}/flags/{FLAG}")
}

fn plan_path(env: &str) -> String {
    format!("/api/admin/projects/{PROJECT}/flags/{FLAG}/environments/{env}/release-plan")
}

async fn require_gradual(owner: &Api) {
    let settings = format!("/api/admin/projects/{PROJECT}/release-settings");
    let on = json!({"requireGradualInProtected": true});
    let r = owner.send(Method::PUT, &settings, Some(&on)).await;
    assert_eq!(r.status(), StatusCode::OK);
}

async fn drafts(api: &Api) -> usize {
    let list: Value = api
        .get("/api/admin/change-requests?state=draft")
        .await
        .json()
        .await
        .unwrap();
    list["changeRequests"].as_array().map_or(0, Vec::len)
}

async fn switch_on_in_production(browser: &Browser, hx: bool) -> reqwest::Response {
    let csrf = browser.csrf().await;
    let path = format!("{}/environments/production/toggle", flag_page());
    let headers: &[(&str, &str)] = if hx { &[("HX-Request", "true")] } else { &[] };
    browser
        .post_form(&path, &[("csrf_token", &csrf), ("on", "true")], headers)
        .await
}

#[tokio::test]
async fn a_switch_refused_by_the_gradual_start_rule_comes_back_to_the_flag_saying_what_to_do() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let owner = app.user("owner");
    admin.api.new_flag(PROJECT, FLAG).await;
    require_gradual(&owner.api).await;
    let browser = app.signed_in(&owner.email).await;
    let drafts_before = drafts(&owner.api).await;
    let before = app.fingerprint().await;

    let r = switch_on_in_production(&browser, false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "not an error page");
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(to, format!("{}#env-production", flag_page()));
    assert_eq!(app.fingerprint().await, before, "nothing changed");
    assert_eq!(drafts(&owner.api).await, drafts_before, "no change request");

    let r = browser.get(&flag_page()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Not switched on:"), "{html}");
    assert!(
        html.contains("requires a gradual start in protected environments"),
        "the reason: {html}"
    );
    let plan_page = format!("{}/environments/production/plan", flag_page());
    assert!(
        html.contains(&format!("href=\"{plan_page}\">Start a release plan</a>")),
        "a link to start a plan: {html}"
    );
    let targeting = format!("{}/targeting?env=production", flag_page());
    assert!(
        html.contains(&format!(
            "href=\"{targeting}\">set a rollout below 100 %</a>"
        )),
        "a link to the targeting: {html}"
    );
    // Said once: the next visit is the plain page.
    let again = browser.get(&flag_page()).await.text().await.unwrap();
    assert!(!again.contains("Not switched on:"));
    assert!(browser.get(&plan_page).await.status().is_success());

    // Through htmx too: the client is sent to the flag page rather than given an error.
    let r = switch_on_in_production(&browser, true).await;
    assert_eq!(r.status(), StatusCode::OK);
    let to = r.headers()["hx-redirect"].to_str().unwrap().to_string();
    assert_eq!(to, format!("{}#env-production", flag_page()));
    let html = browser.get(&flag_page()).await.text().await.unwrap();
    assert!(html.contains("Not switched on:"), "{html}");
    assert_eq!(app.fingerprint().await, before, "still nothing changed");

    // Another flag's page does not show it.
    admin.api.new_flag(PROJECT, "other").await;
    switch_on_in_production(&browser, false).await;
    let other = browser
        .get(&format!("/projects/{PROJECT}/flags/other"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!other.contains("Not switched on:"));

    // Where the rule does not apply, the switch proposes as before.
    let settings = format!("/api/admin/projects/{PROJECT}/release-settings");
    let off = json!({"requireGradualInProtected": false});
    owner.api.send(Method::PUT, &settings, Some(&off)).await;
    let r = switch_on_in_production(&browser, false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap();
    assert!(to.starts_with("/change-requests/"), "{to}");
}

/// Counters for a guard to read: requests and errors of the app `shop` in `env`, this minute.
async fn traffic(api: &Api, env: &str) {
    let sample = |name: &str, value: i64| {
        json!({"name": name, "type": "counter", "environment": env, "appName": "shop",
               "value": value})
    };
    let body = json!({"samples": [sample("http_requests", 1000), sample("http_errors", 4)]});
    let path = format!("/api/admin/projects/{PROJECT}/signals");
    let r = api.send(Method::POST, &path, Some(&body)).await;
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["accepted"], 2, "{answer}");
}

fn error_guard() -> Value {
    json!({"metric": "http_errors", "aggregation": "ratio", "denominator": "http_requests",
           "threshold": 2.0, "relativeToBaseline": true, "windowSeconds": 600,
           "sustainSeconds": 120})
}

/// Development: the gradual template advancing on its own, guarded by an error ratio with data.
/// Staging: the canary, paused, with a guard that has no data. Production: no plan.
async fn plans(api: &Api) {
    api.new_flag(PROJECT, FLAG).await;
    traffic(api, "development").await;
    let body = json!({"template": "gradual", "autoAdvance": true, "guards": [error_guard()]});
    let r = api
        .send(Method::POST, &plan_path("development"), Some(&body))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let mut blind = error_guard();
    blind["metric"] = json!("checkout_failures");
    let body = json!({"template": "canary", "autoAdvance": true, "guards": [blind]});
    let r = api
        .send(Method::POST, &plan_path("staging"), Some(&body))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let pause = format!("{}/pause", plan_path("staging"));
    assert_eq!(
        api.send(Method::POST, &pause, None).await.status(),
        StatusCode::OK
    );
}

/// The `<tr id="env-{env}">` of the page.
fn row<'a>(html: &'a str, env: &str) -> &'a str {
    let start = html
        .find(&format!("<tr id=\"env-{env}\">"))
        .unwrap_or_else(|| panic!("no row for {env}: {html}"));
    let end = html[start..].find("</tr>").unwrap() + start;
    &html[start..end]
}

#[tokio::test]
async fn each_environment_row_shows_its_plan_under_way_in_brief() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    plans(&admin.api).await;
    let viewer = app.user("viewer");
    let browser = app.signed_in(&viewer.email).await;
    let html = browser.get(&flag_page()).await.text().await.unwrap();

    let dev = row(&html, "development");
    let dev_plan = format!("{}/environments/development/plan", flag_page());
    assert!(
        dev.contains(&format!("class=\"plan-brief\" href=\"{dev_plan}\"")),
        "{dev}"
    );
    assert!(dev.contains(">running</span>"), "{dev}");
    assert!(dev.contains("<progress value=\"1\" max=\"5\""), "{dev}");
    // The milestone "1 %" says what it serves; "Canary 5 %" is told it.
    assert!(
        dev.contains("<strong>1 %</strong> <span class=\"muted\">1 of 5</span>"),
        "{dev}"
    );
    assert!(
        dev.contains("next milestone from "),
        "the next step's time: {dev}"
    );
    assert!(dev.contains("guard healthy"), "{dev}");

    let staging = row(&html, "staging");
    assert!(staging.contains(">paused</span>"), "{staging}");
    assert!(staging.contains("1 of 2 · 5 % of users"), "{staging}");
    assert!(
        staging.contains("paused: resume it to advance"),
        "{staging}"
    );
    assert!(staging.contains("guard without data"), "{staging}");

    // No plan: the row offers the plan page instead.
    let production = row(&html, "production");
    assert!(!production.contains("plan-brief"), "{production}");
    assert!(production.contains(">Release plan</a>"), "{production}");

    // A completed plan is no longer under way. (The job may complete it too, once it reaches a
    // milestone without a hold: advance until it is completed, whoever does it.)
    for _ in 0..5 {
        let p: Value = admin
            .api
            .get(&plan_path("development"))
            .await
            .json()
            .await
            .unwrap();
        if p["state"] == "completed" {
            break;
        }
        let advance = format!("{}/advance", plan_path("development"));
        admin.api.send(Method::POST, &advance, None).await;
    }
    let p: Value = admin
        .api
        .get(&plan_path("development"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p["state"], "completed", "{p}");
    let html = browser.get(&flag_page()).await.text().await.unwrap();
    assert!(!row(&html, "development").contains("plan-brief"));
}

/// The Release plans section of the Lifecycle tab.
fn plans_section(html: &str) -> &str {
    let start = html
        .find("aria-labelledby=\"plans-title\"")
        .unwrap_or_else(|| panic!("no release plans section: {html}"));
    let end = html[start..].find("</section>").unwrap() + start;
    &html[start..end]
}

#[tokio::test]
async fn the_lifecycle_tab_shows_the_plans_under_way_in_brief() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "quiet").await;
    let viewer = app.user("viewer");
    let browser = app.signed_in(&viewer.email).await;
    let quiet = format!("/projects/{PROJECT}/flags/quiet?tab=lifecycle");
    let html = browser.get(&quiet).await.text().await.unwrap();
    assert!(
        plans_section(&html).contains("No release plan under way."),
        "{html}"
    );

    plans(&admin.api).await;
    let html = browser
        .get(&format!("{}?tab=lifecycle", flag_page()))
        .await
        .text()
        .await
        .unwrap();
    let section = plans_section(&html);
    let dev_plan = format!("{}/environments/development/plan", flag_page());
    let staging_plan = format!("{}/environments/staging/plan", flag_page());
    assert!(
        section.contains(&format!("class=\"plan-brief\" href=\"{dev_plan}\"")),
        "{section}"
    );
    assert!(
        section.contains(&format!("class=\"plan-brief\" href=\"{staging_plan}\"")),
        "{section}"
    );
    // Each says its environment, as the row would, and where it stands.
    assert!(section.contains("data-env=\"development\""), "{section}");
    assert!(section.contains(">running</span>"), "{section}");
    assert!(section.contains(">paused</span>"), "{section}");
    assert!(section.contains("1 of 2 · 5 % of users"), "{section}");
    assert!(section.contains("guard without data"), "{section}");
    assert!(!section.contains("production"), "no plan there: {section}");
    // The stages are still there beside it.
    assert!(html.contains("id=\"stages-title\""));
}

#[tokio::test]
async fn the_flag_page_shows_plans_and_a_refused_switch_on_a_phone_and_a_wide_screen() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    plans(&admin.api).await;
    require_gradual(&admin.api).await;
    let chrome = Chrome::start(&app.base).await;
    sign_in_as(
        &chrome,
        crate::support::ADMIN_EMAIL,
        "release-flag-00-login",
    )
    .await;
    let mut wide = Vec::new();
    for (width, height) in [(1440u32, 900u32), (390, 844)] {
        chrome
            .client
            .set_window_size(width, height)
            .await
            .expect("resize the window");
        chrome.goto(&flag_page()).await;
        chrome.wait_for("#env-development .plan-brief").await;
        chrome
            .screenshot(&format!("release-flag-{width}-plans"))
            .await;
        // Switching on in production is refused by the rule: the page says so in the row.
        chrome
            .click("#env-production button.switch[aria-pressed='false']")
            .await;
        chrome.wait_for("#env-production .row-notice").await;
        chrome
            .screenshot(&format!("release-flag-{width}-refused"))
            .await;
        let text = chrome.body_text().await;
        assert!(text.contains("Not switched on:"), "{text}");
        let measured = chrome
            .client
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .unwrap();
        let (scroll, viewport) = (measured[0].as_i64().unwrap(), measured[1].as_i64().unwrap());
        if scroll > viewport {
            wide.push(format!("{width}: {scroll} px wide in {viewport}"));
        }
    }
    assert!(wide.is_empty(), "the flag page scrolls sideways: {wide:?}");
    // The notice's link starts a plan; the brief's link opens the plan.
    chrome.click("#env-production .row-notice a").await;
    chrome.wait_for("#start-title").await;
    assert!(chrome
        .path()
        .await
        .ends_with("/environments/production/plan"));
    chrome.goto(&flag_page()).await;
    chrome.click("#env-development .plan-brief").await;
    chrome.wait_for("#progress-title").await;
    assert!(chrome
        .path()
        .await
        .ends_with("/environments/development/plan"));
    chrome.quit().await;
}
