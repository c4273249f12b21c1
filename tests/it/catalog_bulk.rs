//! Bulk actions beyond tags and owners: switching the selected flags on or off in one
//! environment (a switch the project's gradual-start rule refuses comes back to the catalog
//! saying which flags and why, with what to do instead, nothing changed for them), and the same
//! actions from the cross-project `/flags` table, where each flag's project decides by the
//! caller's role there.

use crate::browser::sign_in_as;
use crate::support::browser::Chrome;
use crate::support::{Api, Browser, TestApp, ADMIN_EMAIL, PROJECT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn catalog(rest: &str) -> String {
    format!("/projects/{PROJECT}/flags{rest}")
}

async fn require_gradual(owner: &Api) {
    let settings = format!("/api/admin/projects/{PROJECT}/release-settings");
    let on = json!({"requireGradualInProtected": true});
    let r = owner.send(Method::PUT, &settings, Some(&on)).await;
    assert_eq!(r.status(), StatusCode::OK);
}

fn enabled_in(flag: &Value, env: &str) -> bool {
    flag["flag"]["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["environment"] == env)
        .and_then(|e| e["enabled"].as_bool())
        .unwrap_or_else(|| panic!("no {env} in {flag}"))
}

async fn post_bulk(b: &Browser, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let token = b.csrf().await;
    let mut form = vec![("csrf_token", token.as_str())];
    form.extend_from_slice(fields);
    b.post_form(path, &form, &[]).await
}

/// Every change request in `state`, as JSON text.
async fn requests(api: &Api, state: &str) -> String {
    let r = api
        .get(&format!("/api/admin/change-requests?state={state}"))
        .await;
    let list: Value = r.json().await.unwrap();
    let mut out = String::new();
    for cr in list["changeRequests"].as_array().unwrap() {
        let id = cr["id"].as_i64().unwrap();
        out.push_str(&api.change_request(id).await.text().await.unwrap());
    }
    out
}

#[tokio::test]
async fn a_bulk_switch_the_gradual_start_rule_refuses_comes_back_to_the_catalog_saying_why() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    for key in ["loud", "calm"] {
        admin.api.new_flag(PROJECT, key).await;
    }
    // `calm` serves 10 % in production already: switching it on starts below 100 %.
    let strategies = json!([{"name": "flexibleRollout",
        "parameters": {"rollout": "10", "stickiness": "default", "groupId": "calm"}}]);
    let path =
        format!("/api/admin/projects/{PROJECT}/flags/calm/environments/production/strategies");
    admin.api.force(Method::PUT, &path, Some(&strategies)).await;
    let owner = app.user("owner");
    require_gradual(&owner.api).await;
    let b = app.signed_in(&owner.email).await;

    let back = catalog("?sort=updated");
    let r = post_bulk(
        &b,
        &format!("/projects/{PROJECT}/bulk-flags"),
        &[
            ("back", &back),
            ("action", "on"),
            ("env", "production"),
            ("value", "ignored for a switch"),
            ("flags", "loud"),
            ("flags", "calm"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "not an error page");
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        back,
        "back to the catalog as it was"
    );

    // Nothing changed for the refused flag: still off, in no request; the other is proposed.
    assert!(!enabled_in(
        &admin.api.flag_json(PROJECT, "loud").await,
        "production"
    ));
    assert!(!enabled_in(
        &admin.api.flag_json(PROJECT, "calm").await,
        "production"
    ));
    let drafts = requests(&owner.api, "draft").await;
    assert!(drafts.contains("calm"), "calm is proposed: {drafts}");
    assert!(!drafts.contains("loud"), "loud is in no request: {drafts}");

    let html = b.get(&back).await.text().await.unwrap();
    assert!(
        html.contains("Switch on in production: 1 waiting in a change request, 1 refused"),
        "{html}"
    );
    assert!(
        html.contains("Nothing changed for the flags refused."),
        "{html}"
    );
    assert!(
        html.contains("requires a gradual start in protected environments"),
        "{html}"
    );
    let plan = format!("/projects/{PROJECT}/flags/loud/environments/production/plan");
    assert!(
        html.contains(&format!("href=\"{plan}\">Start a release plan</a>")),
        "a link to start a release plan for the refused flag: {html}"
    );
    let targeting = format!("/projects/{PROJECT}/flags/loud/targeting?env=production");
    assert!(html.contains(&format!(
        "href=\"{targeting}\">set a rollout below 100 %</a>"
    )));
    assert!(
        html.contains("Open change request #"),
        "the staged one links its request"
    );
    assert!(
        !html.contains("/projects/web/flags/calm/environments/production/plan\">Start"),
        "no release plan link for the flag that was not refused"
    );
    // Said once.
    let again = b.get(&back).await.text().await.unwrap();
    assert!(!again.contains("bulk-switched"), "shown once");

    // Unprotected, the rule does not apply: switched at once, and said so.
    let r = post_bulk(
        &b,
        &format!("/projects/{PROJECT}/bulk-flags"),
        &[
            ("action", "on"),
            ("env", "development"),
            ("flags", "loud"),
            ("flags", "calm"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"].to_str().unwrap(), catalog(""));
    assert!(enabled_in(
        &admin.api.flag_json(PROJECT, "loud").await,
        "development"
    ));
    let html = b.get(&catalog("")).await.text().await.unwrap();
    assert!(
        html.contains("Switch on in development: 2 changed"),
        "{html}"
    );
    assert!(html.contains("Switched on in development."), "{html}");

    // An environment the project lacks: refused as a whole on the catalog, nothing changed.
    let before = app.fingerprint().await;
    let r = post_bulk(
        &b,
        &format!("/projects/{PROJECT}/bulk-flags"),
        &[("action", "off"), ("env", "moon"), ("flags", "loud")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = b.get(&catalog("")).await.text().await.unwrap();
    assert!(html.contains("has no environment"), "{html}");
    assert_eq!(app.fingerprint().await, before);

    // The admin API answers the same per flag.
    let r = owner
        .api
        .send(
            Method::POST,
            &format!("/api/admin/projects/{PROJECT}/bulk-flags"),
            Some(&json!({"flags": ["loud"], "action": "on", "value": "production"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["results"][0]["outcome"], "refused", "{answer}");
    assert_eq!(answer["results"][0]["error"], "gradual-start-required");

    // A viewer may not switch, in bulk either.
    let viewer = app.user("viewer");
    let before = app.fingerprint().await;
    let r = viewer
        .api
        .send(
            Method::POST,
            &format!("/api/admin/projects/{PROJECT}/bulk-flags"),
            Some(&json!({"flags": ["loud"], "action": "off", "value": "development"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.fingerprint().await, before);
}

/// `web` (where the user is an editor), `other` (a viewer there) and `secret` (not a member),
/// one flag each; the user signed in.
async fn three_projects(app: &TestApp) -> (Api, Browser) {
    let wide = app.api(Some(app.instance_token(ADMIN_EMAIL)));
    for key in ["other", "secret"] {
        let r = wide.create_project(&json!({ "key": key })).await;
        assert!(r.status().is_success(), "create {key}");
    }
    wide.new_flag(PROJECT, "w1").await;
    wide.new_flag("other", "o1").await;
    wide.new_flag("secret", "s1").await;
    let editor = app.user("editor");
    app.add_member("other", &editor.email, "viewer");
    let b = app.signed_in(&editor.email).await;
    (wide, b)
}

#[tokio::test]
async fn bulk_actions_on_the_cross_project_table_follow_each_flags_project() {
    let app = TestApp::spawn().await;
    let (admin, b) = three_projects(&app).await;

    let page = b.get("/flags").await.text().await.unwrap();
    assert!(
        page.contains("action=\"/bulk-flags\""),
        "the bulk form: {page}"
    );
    assert!(page.contains("name=\"flags\" value=\"web/w1\""), "{page}");
    assert!(page.contains("name=\"flags\" value=\"other/o1\""), "{page}");
    assert!(!page.contains("secret/s1"), "only what the user sees");

    let before = app.audit_count().await;
    let r = post_bulk(
        &b,
        "/bulk-flags",
        &[
            ("back", "/flags?q=1"),
            ("action", "tag-add"),
            ("value", "q4"),
            ("flags", "web/w1"),
            ("flags", "other/o1"),
            ("flags", "secret/s1"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("1 changed, 2 refused"), "{html}");
    assert!(
        html.contains("Editors, approvers or owners may change flags"),
        "the viewer's refusal says why: {html}"
    );
    assert!(
        html.contains("or you are not a member of it"),
        "a project the user is not in is not revealed: {html}"
    );
    assert!(
        html.contains("href=\"/flags?q=1\""),
        "back to the table as filtered"
    );
    assert_eq!(app.audit_count().await, before + 1, "one flag changed");
    let tags = |v: Value| v["flag"]["tags"].clone();
    assert_eq!(tags(admin.flag_json(PROJECT, "w1").await), json!(["q4"]));
    assert_eq!(tags(admin.flag_json("other", "o1").await), json!([]));
    assert_eq!(tags(admin.flag_json("secret", "s1").await), json!([]));

    // Switching comes back to the table with the report.
    let r = post_bulk(
        &b,
        "/bulk-flags",
        &[
            ("action", "on"),
            ("env", "development"),
            ("flags", "web/w1"),
            ("flags", "other/o1"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"].to_str().unwrap(), "/flags");
    let html = b.get("/flags").await.text().await.unwrap();
    assert!(
        html.contains("Switch on in development: 1 changed, 1 refused"),
        "{html}"
    );
    assert!(
        html.contains("web/w1</a>: Switched on in development."),
        "{html}"
    );
    assert!(enabled_in(
        &admin.flag_json(PROJECT, "w1").await,
        "development"
    ));
    assert!(!enabled_in(
        &admin.flag_json("other", "o1").await,
        "development"
    ));

    // Bad input refuses the whole, nothing changed.
    let before = app.fingerprint().await;
    let r = post_bulk(
        &b,
        "/bulk-flags",
        &[("action", "tag-add"), ("value", ""), ("flags", "web/w1")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = b.get("/flags").await.text().await.unwrap();
    assert!(html.contains("name the tag"), "{html}");
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn the_cross_project_table_tags_the_selected_flags_in_the_browser() {
    let app = TestApp::spawn().await;
    let (admin, _b) = three_projects(&app).await;
    let chrome = Chrome::start(&app.base).await;
    sign_in_as(&chrome, ADMIN_EMAIL, "all-flags-bulk-01-login").await;
    chrome.goto("/flags").await;
    chrome.wait_until("window.htmx !== undefined").await;
    chrome.click("input[data-select-all='bulk']").await;
    chrome
        .wait_until("document.querySelector('[data-selected-count=bulk]').textContent === '3 flags selected'")
        .await;
    // The switch's environment shows only for a switch.
    let env_hidden =
        "getComputedStyle(document.querySelector('#bulk .bulk-env')).display === 'none'";
    chrome.wait_until(env_hidden).await;
    chrome.fill("#bulk input[name=value]", "cleanup").await;
    chrome.screenshot("all-flags-bulk-02-selected").await;
    chrome.click("#bulk button[type=submit]").await;
    chrome.wait_for(".bulk-results").await;
    chrome.screenshot("all-flags-bulk-03-done").await;
    let text = chrome.body_text().await;
    assert!(text.contains("3 changed"), "{text}");
    for (project, key) in [(PROJECT, "w1"), ("other", "o1"), ("secret", "s1")] {
        let tags = admin.flag_json(project, key).await["flag"]["tags"].clone();
        assert_eq!(tags, json!(["cleanup"]), "{project}/{key}");
    }

    // A switch from the table: back to it, the report above the rows.
    chrome.goto("/flags").await;
    chrome.wait_until("window.htmx !== undefined").await;
    chrome.click("input[data-select-all='bulk']").await;
    let action = chrome.wait_for("#bulk select[name=action]").await;
    action
        .select_by_value("on")
        .await
        .expect("choose Switch on");
    chrome
        .wait_until(
            "getComputedStyle(document.querySelector('#bulk .bulk-env')).display !== 'none'",
        )
        .await;
    chrome
        .wait_for("#bulk select[name=env]")
        .await
        .select_by_value("development")
        .await
        .expect("choose development");
    chrome.click("#bulk button[type=submit]").await;
    chrome.wait_for(".bulk-switched").await;
    chrome.screenshot("all-flags-bulk-04-switched").await;
    assert_eq!(chrome.path().await, "/flags");
    let text = chrome.body_text().await;
    assert!(
        text.contains("Switch on in development: 3 changed"),
        "{text}"
    );
    chrome.quit().await;
}
