//! Change-request pages over HTTP with signed-in browser sessions (issue 4): the protected switch
//! stages into a draft, a second person approves and applies, four eyes hold against a forged
//! post, and the kill switch needs a reason and leaves a kill to acknowledge.

use crate::support::{Browser, TestApp, PROJECT};
use reqwest::StatusCode;
use serde_json::Value;

const FLAG: &str = "/projects/web/flags/checkout";

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn page(b: &Browser, path: &str) -> String {
    let r = b.get(path).await;
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    r.text().await.unwrap()
}

/// POSTs a form with the session's CSRF token; expects a redirect and returns where to.
async fn post(b: &Browser, path: &str, fields: &[(&str, &str)]) -> String {
    let csrf = b.csrf().await;
    let mut all = vec![("csrf_token", csrf.as_str())];
    all.extend_from_slice(fields);
    let r = b.post_form(path, &all, &[]).await;
    let status = r.status();
    let to = location(&r);
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "POST {path}: {}",
        r.text().await.unwrap_or_default()
    );
    to
}

async fn enabled_in(api: &crate::support::Api, env: &str) -> bool {
    let flag: Value = api.flag_json(PROJECT, "checkout").await;
    flag["flag"]["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["environment"] == env)
        .unwrap()["enabled"]
        .as_bool()
        .unwrap()
}

/// The editor switches production on from the flag page and submits the draft it lands on.
async fn propose_and_submit(b: &Browser) -> String {
    let html = page(b, FLAG).await;
    assert!(html.contains("opens a change request"), "{html}");
    let to = post(
        b,
        &format!("{FLAG}/environments/production/toggle"),
        &[("on", "true")],
    )
    .await;
    assert!(to.starts_with("/change-requests/"), "{to}");
    let html = page(b, &to).await;
    assert!(
        html.contains("Added to your draft change request"),
        "{html}"
    );
    assert!(html.contains("Switched off → on"), "{html}");
    assert!(html.contains("Submit for review"), "{html}");
    let back = post(
        b,
        &format!("{to}/submit"),
        &[("title", "Launch checkout"), ("reason", "QA signed off")],
    )
    .await;
    assert_eq!(back, to);
    to
}

#[tokio::test]
async fn editor_proposes_in_production_and_another_person_approves_and_applies() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    let editor = app.user("editor");
    let approver = app.user("approver");
    let eb = app.signed_in(&editor.email).await;
    let href = propose_and_submit(&eb).await;
    assert!(!enabled_in(&admin.api, "production").await);

    let ab = app.signed_in(&approver.email).await;
    let inbox = page(&ab, "/change-requests").await;
    assert!(inbox.contains("Launch checkout"), "{inbox}");
    assert!(inbox.contains(&format!("href=\"{href}\"")), "{inbox}");
    assert!(inbox.contains("class=\"nav-count\""), "{inbox}");
    let mine = page(&eb, "/change-requests?tab=mine").await;
    assert!(mine.contains("Launch checkout"), "{mine}");
    let waiting_for_editor = page(&eb, "/change-requests").await;
    assert!(!waiting_for_editor.contains("Launch checkout"));

    let html = page(&ab, &href).await;
    assert!(
        html.contains(&format!("action=\"{href}/approve\"")),
        "{html}"
    );
    post(&ab, &format!("{href}/approve"), &[]).await;
    let html = page(&ab, &href).await;
    assert!(html.contains("Approved."), "{html}");
    assert!(html.contains(&format!("action=\"{href}/apply\"")), "{html}");
    post(&ab, &format!("{href}/apply"), &[]).await;
    let html = page(&ab, &href).await;
    assert!(html.contains("Applied"), "{html}");
    assert!(enabled_in(&admin.api, "production").await);
}

#[tokio::test]
async fn the_author_sees_no_approve_button_and_a_forged_approval_is_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    // An approver could approve others' requests, never their own.
    let author = app.user("approver");
    let b = app.signed_in(&author.email).await;
    let href = propose_and_submit(&b).await;
    let html = page(&b, &href).await;
    assert!(!html.contains(&format!("{href}/approve")), "{html}");
    assert!(html.contains("somebody else approves it"), "{html}");

    let back = post(&b, &format!("{href}/approve"), &[]).await;
    assert_eq!(back, href);
    let html = page(&b, &href).await;
    assert!(html.contains("flash-error"), "{html}");
    let id = href.rsplit('/').next().unwrap().parse::<i64>().unwrap();
    let cr: Value = admin.api.change_request(id).await.json().await.unwrap();
    assert_eq!(cr["changeRequest"]["state"], "in-review");
    assert_eq!(
        cr["changeRequest"]["approvals"].as_array().unwrap().len(),
        0
    );

    // A rejection without a reason comes back with the error by the field.
    let approver = app.user("approver");
    let ab = app.signed_in(&approver.email).await;
    let csrf = ab.csrf().await;
    let r = ab
        .post_form(
            &format!("{href}/reject"),
            &[("csrf_token", &csrf), ("reason", " ")],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("a rejection needs a reason"), "{html}");
}

#[tokio::test]
async fn the_kill_switch_needs_a_reason_and_leaves_a_kill_to_acknowledge() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    admin
        .api
        .force_toggle(PROJECT, "checkout", "production", true)
        .await;
    let editor = app.user("editor");
    let eb = app.signed_in(&editor.email).await;
    let html = page(&eb, FLAG).await;
    assert!(html.contains("btn-kill"), "{html}");

    let kill = format!("{FLAG}/environments/production/kill");
    let back = post(&eb, &kill, &[("reason", "  ")]).await;
    assert_eq!(back, FLAG);
    let html = page(&eb, FLAG).await;
    assert!(html.contains("flash-error"), "{html}");
    assert!(enabled_in(&admin.api, "production").await);

    post(&eb, &kill, &[("reason", "checkout errors spiking")]).await;
    assert!(!enabled_in(&admin.api, "production").await);

    // The editor may not acknowledge; an approver does, once.
    let inbox = page(&eb, "/change-requests").await;
    assert!(inbox.contains("checkout errors spiking"), "{inbox}");
    assert!(!inbox.contains(">Acknowledge</button>"), "{inbox}");
    let approver = app.user("approver");
    let ab = app.signed_in(&approver.email).await;
    let inbox = page(&ab, "/change-requests").await;
    assert!(
        inbox.contains("Emergency kills awaiting acknowledgement"),
        "{inbox}"
    );
    let start = inbox
        .find("/projects/web/kills/")
        .expect("an acknowledge form");
    let end = start + inbox[start..].find('"').unwrap();
    let ack = inbox[start..end].to_string();
    post(&ab, &ack, &[("note", "rolled back, looking into it")]).await;
    let inbox = page(&ab, "/change-requests").await;
    assert!(inbox.contains("Acknowledged the emergency kill"), "{inbox}");
    assert!(!inbox.contains("checkout errors spiking"), "{inbox}");
}
