//! Release templates: the three seeded presets, instance-wide ones edited by admins, a project's
//! own by its owners, validation by path, and the project setting that asks switching on in a
//! protected environment to be gradual.

use crate::support::{TestApp, ADMIN_EMAIL, PROJECT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn two_steps(key: &str) -> Value {
    json!({"key": key, "name": "Two steps", "milestones": [
        {"name": "Half", "holdMinutes": 30, "strategies": [
            {"name": "flexibleRollout", "parameters": {"rollout": "50", "stickiness": "default"}}]},
        {"name": "All", "holdMinutes": 0, "strategies": []}
    ]})
}

#[tokio::test]
async fn the_three_presets_are_seeded_and_admins_edit_instance_wide_ones() {
    let app = TestApp::spawn().await;
    let wide = app.api(Some(app.instance_token(ADMIN_EMAIL)));
    let list: Value = wide
        .get("/api/admin/release-templates")
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Canary: 5 % for an hour, then everyone",
            "Gradual: 1 → 10 → 25 → 50 → 100 %",
            "Internal first: the internal segment, then 10 %, then everyone"
        ]
    );
    let gradual = &list["templates"][1];
    let shares: Vec<&str> = gradual["milestones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["strategies"][0]["parameters"]["rollout"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(shares, ["1", "10", "25", "50", "100"]);

    // An owner edits the project's own templates, not the instance-wide ones.
    let owner = app.user("owner");
    let r = owner
        .api
        .send(
            Method::POST,
            "/api/admin/release-templates",
            Some(&two_steps("x")),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = wide
        .send(
            Method::POST,
            "/api/admin/release-templates",
            Some(&two_steps("two")),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let mut edited = two_steps("two");
    edited["name"] = json!("Two halves");
    let r = wide
        .send(
            Method::PUT,
            "/api/admin/release-templates/two",
            Some(&edited),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["template"]["name"], "Two halves");
    assert_eq!(t["template"]["version"], 2);

    // The edit is audited and described in words.
    let audit: Value = wide
        .audit("action=release-template.updated")
        .await
        .json()
        .await
        .unwrap();
    let said = audit.to_string();
    assert!(said.contains("Two steps"), "{said}");
}

#[tokio::test]
async fn owners_keep_project_templates_and_bad_milestones_are_named_by_path() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner");
    let editor = app.user("editor");
    let path = format!("/api/admin/projects/{PROJECT}/release-templates");
    let r = editor
        .api
        .send(Method::POST, &path, Some(&two_steps("mine")))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = owner
        .api
        .send(Method::POST, &path, Some(&two_steps("mine")))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let again = owner
        .api
        .send(Method::POST, &path, Some(&two_steps("mine")))
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);

    let bad = json!({"key": "bad", "name": "Bad", "milestones": [
        {"name": "x", "holdMinutes": 60, "strategies": [
            {"name": "flexibleRollout", "parameters": {"rollout": "250"}}]}]});
    let r = owner.api.send(Method::POST, &path, Some(&bad)).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = r.text().await.unwrap();
    assert!(body.contains("milestones[0].strategies[0]"), "{body}");

    // The project offers the instance-wide presets and its own.
    let list: Value = editor.api.get(&path).await.json().await.unwrap();
    let keys: Vec<&str> = list["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["canary", "gradual", "internal-first", "mine"]);

    // And the page lists them.
    let browser = app.signed_in(&owner.email).await;
    let page = browser
        .get(&format!("/projects/{PROJECT}/release-templates"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Gradual: 1 → 10 → 25 → 50 → 100 %"));
    assert!(
        page.contains("Half: Gradual rollout 50 % of users, hold 30 min"),
        "{page}"
    );
}

#[tokio::test]
async fn a_web_form_creates_a_project_template() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner");
    let browser = app.signed_in(&owner.email).await;
    let path = format!("/projects/{PROJECT}/release-templates");
    let csrf = browser.csrf().await;
    let r = browser
        .post_form(
            &path,
            &[
                ("csrf_token", &csrf),
                ("key", "quick"),
                ("name", "Quick"),
                ("m0_percent", "20"),
                ("m0_hold", "15"),
                ("m1_percent", "100"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let t: Value = owner
        .api
        .get(&format!(
            "/api/admin/projects/{PROJECT}/release-templates/quick"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["template"]["milestones"][0]["name"], "20 %");
    assert_eq!(t["template"]["milestones"][0]["holdMinutes"], 15);
}

#[tokio::test]
async fn a_project_may_require_a_gradual_start_in_protected_environments() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let owner = app.user("owner");
    admin.api.new_flag(PROJECT, "checkout").await;
    let settings = format!("/api/admin/projects/{PROJECT}/release-settings");
    let on = json!({"requireGradualInProtected": true});
    let r = owner.api.send(Method::PUT, &settings, Some(&on)).await;
    assert_eq!(r.status(), StatusCode::OK);

    // Switching on with no strategy would serve everyone: refused with a sentence.
    let r = owner
        .api
        .toggle(PROJECT, "checkout", "production", true)
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let body = r.text().await.unwrap();
    assert!(body.contains("release plan"), "{body}");
    // Unprotected environments are not concerned.
    let r = owner
        .api
        .toggle(PROJECT, "checkout", "development", true)
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    // With a 10 % rollout proposed first, switching on may be proposed.
    let strategies = json!([{"name": "flexibleRollout", "parameters": {"rollout": "10"}}]);
    let path =
        format!("/api/admin/projects/{PROJECT}/flags/checkout/environments/production/strategies");
    let r = owner.api.send(Method::PUT, &path, Some(&strategies)).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = owner
        .api
        .toggle(PROJECT, "checkout", "production", true)
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
}
