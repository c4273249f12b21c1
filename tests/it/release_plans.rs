//! Release plans: a template applied to a flag in one environment advances through its
//! milestones by time (the test clock) and by hand, pauses and resumes, and in a protected
//! environment is approved once as a whole.

use crate::support::clock::TestClock;
use crate::support::{Api, TestApp, ADMIN_EMAIL, PROJECT};
use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub(crate) fn plan_path(env: &str) -> String {
    format!("/api/admin/projects/{PROJECT}/flags/checkout/environments/{env}/release-plan")
}

pub(crate) async fn plan(api: &Api, env: &str) -> Value {
    let r = api.get(&plan_path(env)).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

/// Waits (10 s at most) until the plan satisfies `check`; the job ticks every second.
pub(crate) async fn plan_until(
    api: &Api,
    env: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let p = plan(api, env).await;
        if check(&p) {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {p:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The rollout share the environment serves, as stored (the feed is rebuilt from it).
pub(crate) async fn served(api: &Api, env: &str) -> (bool, Option<String>) {
    let t: Value = api
        .get(&format!(
            "/api/admin/projects/{PROJECT}/flags/checkout/environments/{env}/strategies"
        ))
        .await
        .json()
        .await
        .unwrap();
    let t = &t["targeting"];
    let share = t["strategies"][0]["parameters"]["rollout"]
        .as_str()
        .map(str::to_string);
    (t["enabled"].as_bool().unwrap(), share)
}

#[tokio::test]
async fn a_plan_advances_by_time_and_by_hand_and_pauses() {
    let clock = TestClock::at("2030-06-01T12:00:30Z");
    let app = TestApp::spawn_with_env(&[clock.env()]).await;
    let admin = app.admin();
    let editor = app.user("editor");
    let viewer = app.user("viewer");
    admin.api.new_flag(PROJECT, "checkout").await;
    let body = json!({"template": "gradual", "autoAdvance": true});
    let r = viewer
        .api
        .send(Method::POST, &plan_path("development"), Some(&body))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = editor
        .api
        .send(Method::POST, &plan_path("development"), Some(&body))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["state"], "running");
    assert_eq!(p["milestone"], 0);
    assert_eq!(p["exposure"], 1);
    assert_eq!(p["milestones"].as_array().unwrap().len(), 5);
    assert_eq!(
        served(&editor.api, "development").await,
        (true, Some("1".into()))
    );
    // One plan at a time.
    let again = editor
        .api
        .send(Method::POST, &plan_path("development"), Some(&body))
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);

    // The hold is an hour: nothing moves before, the job advances after.
    clock.set(clock.start + TimeDelta::minutes(59));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(plan(&viewer.api, "development").await["milestone"], 0);
    clock.set(clock.start + TimeDelta::minutes(61));
    plan_until(&viewer.api, "development", "the timed advance", |p| {
        p["milestone"] == 1
    })
    .await;
    assert_eq!(
        served(&editor.api, "development").await,
        (true, Some("10".into()))
    );

    // By hand.
    let r = editor
        .api
        .send(
            Method::POST,
            &format!("{}/advance", plan_path("development")),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let p: Value = r.json().await.unwrap();
    assert_eq!(
        (p["milestone"].clone(), p["exposure"].clone()),
        (json!(2), json!(25))
    );

    // Paused, the hold passing changes nothing; resumed, the job advances.
    let r = editor
        .api
        .send(
            Method::POST,
            &format!("{}/pause", plan_path("development")),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    clock.set(clock.start + TimeDelta::minutes(200));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let p = plan(&viewer.api, "development").await;
    assert_eq!(
        (p["state"].clone(), p["milestone"].clone()),
        (json!("paused"), json!(2))
    );
    let r = editor
        .api
        .send(
            Method::POST,
            &format!("{}/resume", plan_path("development")),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    plan_until(
        &viewer.api,
        "development",
        "the advance after resuming",
        |p| p["milestone"] == 3,
    )
    .await;
    assert_eq!(
        served(&editor.api, "development").await,
        (true, Some("50".into()))
    );

    // Each step is in the audit log, described.
    let audit: Value = admin
        .api
        .audit("action=release-plan.advanced")
        .await
        .json()
        .await
        .unwrap();
    let said = audit.to_string();
    assert!(said.contains(r#""milestoneName":"10 %""#), "{said}");
    let kinds: Vec<String> = plan(&viewer.api, "development").await["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        ["started", "advanced", "advanced", "paused", "resumed", "advanced"]
    );

    // The page shows the progress.
    let browser = app.signed_in(&editor.email).await;
    let page = browser
        .get(&format!(
            "/projects/{PROJECT}/flags/checkout/environments/development/plan"
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Gradual: 1 → 10 → 25 → 50 → 100 %"), "{page}");
    assert!(page.contains("50 %"));
}

#[tokio::test]
async fn a_protected_plan_is_approved_once_and_then_advances_without_review() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let editor = app.user("editor");
    admin.api.new_flag(PROJECT, "checkout").await;
    let g = admin.api.governance.clone().unwrap();
    let body = json!({"template": "canary", "onBreach": "off", "guards": [
        {"metric": "http_errors", "aggregation": "ratio", "denominator": "http_requests",
         "threshold": 1.5, "relativeToBaseline": true, "windowSeconds": 300, "sustainSeconds": 120}]});
    let r = g
        .proposer
        .send(Method::POST, &plan_path("production"), Some(&body))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED, "{}", app.stderr());
    let cr: Value = r.json().await.unwrap();
    let id = cr["changeRequest"]["id"].as_i64().unwrap();
    let item = &cr["changeRequest"]["items"][0];
    assert_eq!(item["kind"], "release-plan");
    assert_eq!(
        item["summary"],
        "release checkout with the plan Canary: 5 % for an hour, then everyone (2 milestones)"
    );
    // Nothing is served yet.
    assert_eq!(plan_status(&admin.api).await, StatusCode::NOT_FOUND);
    assert!(!served(&admin.api, "production").await.0);

    // Reviewers read the whole plan in words.
    let browser = app.signed_in(ADMIN_EMAIL).await;
    let page = browser
        .get(&format!("/change-requests/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Milestone 1: Canary 5 %: Gradual rollout 5 % of users, hold 1 h"),
        "{page}"
    );
    assert!(
        page.contains("Guard: ratio of http_errors to http_requests above 1.5 × baseline"),
        "{page}"
    );

    let title = json!({"title": "release checkout", "reason": "canary first"});
    for (api, verb, body) in [
        (&g.proposer, "submit", Some(&title)),
        (&g.approver, "approve", None),
        (&g.proposer, "apply", None),
    ] {
        let r = api.change_request_step(id, verb, body).await;
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "{verb}: {}",
            r.text().await.unwrap()
        );
    }
    let p = plan(&admin.api, "production").await;
    assert_eq!(
        (p["state"].clone(), p["milestone"].clone()),
        (json!("running"), json!(0))
    );
    assert_eq!(
        served(&admin.api, "production").await,
        (true, Some("5".into()))
    );

    // The next milestone was approved with the plan: an editor advances it directly.
    let r = editor
        .api
        .send(
            Method::POST,
            &format!("{}/advance", plan_path("production")),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        served(&admin.api, "production").await,
        (true, Some("100".into()))
    );
    let r = editor
        .api
        .send(
            Method::POST,
            &format!("{}/advance", plan_path("production")),
            None,
        )
        .await;
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["state"], "completed");
    // Only the one request was ever opened.
    let list: Value = admin
        .api
        .get("/api/admin/change-requests")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["changeRequests"].as_array().unwrap().len(),
        1,
        "{list}"
    );
}

async fn plan_status(api: &Api) -> StatusCode {
    api.get(&plan_path("production")).await.status()
}

#[tokio::test]
async fn internal_first_needs_an_internal_segment() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    let body = json!({"template": "internal-first"});
    let r = admin
        .api
        .send(Method::POST, &plan_path("development"), Some(&body))
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let said = r.text().await.unwrap();
    assert!(said.contains("has no segment of that name"), "{said}");

    let segment = json!({"name": "internal", "constraints": [
        {"contextName": "email", "operator": "STR_ENDS_WITH", "values": ["@example.com"]}]});
    let r = admin
        .api
        .send(
            Method::POST,
            &format!("/api/admin/projects/{PROJECT}/segments"),
            Some(&segment),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = admin
        .api
        .send(Method::POST, &plan_path("development"), Some(&body))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let p: Value = r.json().await.unwrap();
    assert_eq!(
        p["exposure"],
        Value::Null,
        "a segment is targeted, not a share"
    );
    assert!(
        p["milestones"][0]["serves"]
            .as_str()
            .unwrap()
            .contains("in segment internal"),
        "{p}"
    );
}

#[tokio::test]
async fn the_plan_page_starts_advances_and_stops_a_plan() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let editor = app.user("editor");
    admin.api.new_flag(PROJECT, "checkout").await;
    let browser = app.signed_in(&editor.email).await;
    let page = format!("/projects/{PROJECT}/flags/checkout/environments/development/plan");
    let csrf = browser.csrf().await;
    let bad = browser
        .post_form(
            &page,
            &[
                ("csrf_token", &csrf),
                ("template", "gradual"),
                ("metric", "http_errors"),
                ("aggregation", "ratio"),
                ("threshold", "1.5"),
                ("window", "300"),
                ("sustain", "60"),
            ],
            &[],
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad
        .text()
        .await
        .unwrap()
        .contains("a ratio needs the counter it divides by"));
    let r = browser
        .post_form(
            &page,
            &[
                ("csrf_token", &csrf),
                ("template", "gradual"),
                ("on_breach", "off"),
                ("metric", "http_errors"),
                ("aggregation", "ratio"),
                ("denominator", "http_requests"),
                ("threshold", "1.5"),
                ("relative", "on"),
                ("window", "300"),
                ("sustain", "60"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let p = plan(&editor.api, "development").await;
    assert_eq!(p["onBreach"], "off");
    assert_eq!(p["guards"][0]["denominator"], "http_requests");

    let r = browser
        .post_form(&format!("{page}/advance"), &[("csrf_token", &csrf)], &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(plan(&editor.api, "development").await["milestone"], 1);
    let html = browser.get(&page).await.text().await.unwrap();
    assert!(
        html.contains("Serving <strong>10 % of users</strong>"),
        "{html}"
    );
    assert!(html.contains("<svg"), "the timeline chart");
    let r = browser
        .post_form(&format!("{page}/stop"), &[("csrf_token", &csrf)], &[])
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // A stopped plan is gone from the flag's plan; the page offers to start another.
    let gone = editor.api.get(&plan_path("development")).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    let html = browser.get(&page).await.text().await.unwrap();
    assert!(html.contains("Start a release plan"), "{html}");
}
