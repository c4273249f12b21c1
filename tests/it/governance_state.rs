//! Governance state where people work (issue 9, items 3, 4, 5 and 8): a pending change request
//! on the flag page, the kill banner until an approver acknowledges it with a note, the inbox's
//! Closed tab and stale drafts, copying targeting between environments, and the small untruths.

use crate::support::{Api, Browser, TestApp, PROJECT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const FLAG: &str = "/projects/web/flags/checkout";

async fn status_json(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn page(b: &Browser, path: &str) -> String {
    let r = b.get(path).await;
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    r.text().await.unwrap()
}

/// POSTs a form with the session's CSRF token; returns the status and where it redirects.
async fn post(b: &Browser, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let csrf = b.csrf().await;
    let mut all = vec![("csrf_token", csrf.as_str())];
    all.extend_from_slice(fields);
    let r = b.post_form(path, &all, &[]).await;
    let to = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (r.status(), to)
}

/// Stages switching `checkout` on in production into `api`'s draft; returns the request id.
async fn stage_switch_on(api: &Api) -> i64 {
    let (status, body) =
        status_json(api.toggle(PROJECT, "checkout", "production", true).await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    body["changeRequest"]["id"].as_i64().unwrap()
}

async fn step(api: &Api, id: i64, verb: &str, body: Option<Value>) {
    let r = api.change_request_step(id, verb, body.as_ref()).await;
    let status = r.status();
    assert_eq!(
        status,
        StatusCode::OK,
        "{verb} #{id}: {}",
        r.text().await.unwrap()
    );
}

fn submission() -> Option<Value> {
    Some(json!({"title": "Launch checkout", "reason": "QA signed off"}))
}

/// The `<tr id="env-{env}">` row of the flag page.
fn env_row<'a>(html: &'a str, env: &str) -> &'a str {
    let start = html
        .find(&format!("<tr id=\"env-{env}\">"))
        .unwrap_or_else(|| panic!("no row for {env}: {html}"));
    let end = start + html[start..].find("</tr>").unwrap();
    &html[start..end]
}

#[tokio::test]
async fn a_pending_request_shows_on_the_flag_and_its_environment_until_it_is_applied() {
    let app = TestApp::spawn().await;
    app.admin().api.new_flag(PROJECT, "checkout").await;
    let editor = app.user("editor");
    let approver = app.user("approver");
    let id = stage_switch_on(&editor.api).await;
    let badge = format!("pending change request #{id}");

    // A draft is its author's business until it is submitted.
    let eb = app.signed_in(&editor.email).await;
    let ab = app.signed_in(&approver.email).await;
    let html = page(&eb, FLAG).await;
    assert!(html.contains(&format!("your draft #{id}")), "{html}");
    assert!(!page(&ab, FLAG).await.contains(&format!("#{id}")));

    step(&editor.api, id, "submit", submission()).await;
    let html = page(&ab, FLAG).await;
    let header = &html[..html.find("<nav class=\"tabs\"").unwrap()];
    assert!(header.contains(&badge), "{header}");
    assert!(
        header.contains(&format!("href=\"/change-requests/{id}\"")),
        "{header}"
    );
    assert!(env_row(&html, "production").contains(&badge), "{html}");
    assert!(!env_row(&html, "staging").contains(&badge), "{html}");
    // The catalog rows (the project's and the cross-project one) say it too.
    for catalog in [format!("/projects/{PROJECT}/flags"), "/flags".to_string()] {
        let html = page(&ab, &catalog).await;
        assert!(html.contains(&badge), "{catalog}: {html}");
    }

    step(&approver.api, id, "approve", None).await;
    assert!(
        page(&ab, FLAG).await.contains(&badge),
        "approved is still pending"
    );
    step(&approver.api, id, "apply", None).await;
    assert!(
        !page(&ab, FLAG).await.contains(&badge),
        "applied: no longer pending"
    );
    let catalog = page(&ab, &format!("/projects/{PROJECT}/flags")).await;
    assert!(!catalog.contains(&badge), "{catalog}");

    // Rejected and cancelled requests drop off the same way.
    let (status, _) = status_json(
        editor
            .api
            .toggle(PROJECT, "checkout", "production", false)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let second = eb_draft_id(&editor.api).await;
    step(&editor.api, second, "submit", submission()).await;
    assert!(page(&ab, FLAG)
        .await
        .contains(&format!("pending change request #{second}")));
    step(
        &approver.api,
        second,
        "reject",
        Some(json!({"reason": "not now"})),
    )
    .await;
    assert!(!page(&ab, FLAG).await.contains(&format!("#{second}")));
}

/// The editor's one open draft.
async fn eb_draft_id(api: &Api) -> i64 {
    let (_, list) = status_json(
        api.get("/api/admin/change-requests?mine=true&state=draft")
            .await,
    )
    .await;
    list["changeRequests"][0]["id"].as_i64().expect("a draft")
}

#[tokio::test]
async fn a_kill_stays_live_and_shows_a_banner_until_an_approver_acknowledges_it_with_a_note() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    admin
        .api
        .force_toggle(PROJECT, "checkout", "production", true)
        .await;
    let editor = app.user("editor");
    let approver = app.user("approver");
    let (status, body) = status_json(
        editor
            .api
            .kill(
                PROJECT,
                "checkout",
                "production",
                &json!({"reason": "checkout errors spiking"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let kill = body["kill"]["id"].as_i64().unwrap();

    // An emergency stop, not a retreat from production.
    let flag = admin.api.flag_json(PROJECT, "checkout").await;
    assert_eq!(flag["flag"]["lifecycleStage"], "live", "{flag}");
    let (_, listed) = status_json(admin.api.flags(PROJECT, "lifecycle=live").await).await;
    assert_eq!(listed["flags"][0]["key"], "checkout", "{listed}");

    let ab = app.signed_in(&approver.email).await;
    let html = page(&ab, FLAG).await;
    assert!(html.contains("banner-kill"), "{html}");
    assert!(html.contains("checkout errors spiking"), "{html}");
    assert!(html.contains(&editor.email), "{html}");
    assert!(html.contains("Acknowledgement note"), "{html}");
    assert!(
        env_row(&html, "production").contains(&format!("href=\"#kill-{kill}\"")),
        "{html}"
    );
    // The one who killed it sees why there is no form.
    let eb = app.signed_in(&editor.email).await;
    let html = page(&eb, FLAG).await;
    assert!(
        html.contains("Somebody else acknowledges your kill"),
        "{html}"
    );
    assert!(!html.contains("Acknowledgement note"), "{html}");

    // A note is required, in the API and on the page.
    let ack = format!("/projects/{PROJECT}/kills/{kill}/acknowledge");
    let (status, body) = status_json(
        approver
            .api
            .send(
                Method::POST,
                &format!("/api/admin{ack}"),
                Some(&json!({"note": "  "})),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("say what was done about the kill"),
        "{body}"
    );
    let (status, to) = post(&ab, &ack, &[("note", ""), ("flag", "checkout")]).await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, FLAG));
    let html = page(&ab, FLAG).await;
    assert!(html.contains("Say what was done about the kill"), "{html}");
    assert!(html.contains("banner-kill"), "still owed: {html}");

    let (status, to) = post(
        &ab,
        &ack,
        &[("note", "rolled back release 41"), ("flag", "checkout")],
    )
    .await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, FLAG));
    let html = page(&ab, FLAG).await;
    assert!(!html.contains("banner-kill"), "{html}");
    assert!(!html.contains("#kill-"), "{html}");
    assert!(html.contains("Acknowledged the emergency kill"), "{html}");

    let (_, entries) = status_json(admin.api.audit("action=flag.kill-acknowledged").await).await;
    assert_eq!(
        entries["entries"][0]["reason"], "rolled back release 41",
        "{entries}"
    );
    let history = page(&ab, &format!("{FLAG}?tab=history")).await;
    assert!(
        history.contains(&format!(
            "Emergency kill acknowledged (killed by {}: “checkout errors spiking”), noting “rolled back release 41”",
            editor.email
        )),
        "{history}"
    );
    let flag = admin.api.flag_json(PROJECT, "checkout").await;
    assert_eq!(flag["flag"]["lifecycleStage"], "live", "{flag}");
}

#[tokio::test]
async fn the_closed_tab_lists_finished_requests_and_narrows_them_by_state_project_author_and_date()
{
    let app = TestApp::spawn().await;
    let admin = app.admin();
    for key in ["checkout", "search", "banner"] {
        admin.api.new_flag(PROJECT, key).await;
    }
    let (ann, bob) = (app.user("editor"), app.user("editor"));
    let approver = app.user("approver");
    let stage = |api: &Api, key: &'static str| {
        let api = api.clone();
        async move {
            let (status, body) =
                status_json(api.toggle(PROJECT, key, "production", true).await).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
            body["changeRequest"]["id"].as_i64().unwrap()
        }
    };
    let applied = stage(&ann.api, "checkout").await;
    step(&ann.api, applied, "submit", submission()).await;
    step(&approver.api, applied, "approve", None).await;
    step(&approver.api, applied, "apply", None).await;
    let rejected = stage(&bob.api, "search").await;
    step(&bob.api, rejected, "submit", submission()).await;
    step(
        &approver.api,
        rejected,
        "reject",
        Some(json!({"reason": "not now"})),
    )
    .await;
    let cancelled = stage(&ann.api, "banner").await;
    step(&ann.api, cancelled, "cancel", None).await;
    let open = stage(&bob.api, "checkout").await;

    let reader = app.signed_in(&approver.email).await;
    let listed = |html: &str| -> Vec<i64> {
        [applied, rejected, cancelled, open]
            .into_iter()
            .filter(|id| html.contains(&format!("<a href=\"/change-requests/{id}\">{id}</a>")))
            .collect()
    };
    let html = page(&reader, "/change-requests?tab=closed").await;
    assert!(html.contains("aria-current=\"page\">Closed"), "{html}");
    assert_eq!(listed(&html), [applied, rejected, cancelled], "{html}");
    let html = page(&reader, "/change-requests?tab=closed&state=rejected").await;
    assert_eq!(listed(&html), [rejected]);
    let html = page(
        &reader,
        &format!("/change-requests?tab=closed&author={}", ann.email),
    )
    .await;
    assert_eq!(listed(&html), [applied, cancelled]);
    assert!(
        html.contains(&format!("<option value=\"{}\" selected>", ann.email)),
        "{html}"
    );
    let html = page(
        &reader,
        "/change-requests?tab=closed&project=web&state=applied",
    )
    .await;
    assert_eq!(listed(&html), [applied]);
    let html = page(&reader, "/change-requests?tab=closed&since=2000-01-01").await;
    assert_eq!(listed(&html), [applied, rejected, cancelled]);
    let html = page(&reader, "/change-requests?tab=closed&since=2999-01-01").await;
    assert_eq!(listed(&html), Vec::<i64>::new());
    assert!(html.contains("No closed change requests match"), "{html}");
    // A date that cannot be read is said by its field and filters nothing.
    let html = page(&reader, "/change-requests?tab=closed&since=yesterday").await;
    assert!(html.contains("give a date as YYYY-MM-DD"), "{html}");
    assert_eq!(listed(&html), [applied, rejected, cancelled]);
    // The API lists the same, with the same filters.
    let ids = |v: &Value| -> Vec<i64> {
        let mut ids: Vec<i64> = v["changeRequests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    };
    let (_, v) = status_json(
        approver
            .api
            .get("/api/admin/change-requests?closed=true")
            .await,
    )
    .await;
    assert_eq!(ids(&v), [applied, rejected, cancelled], "{v}");
    let path = format!(
        "/api/admin/change-requests?closed=true&author={}",
        bob.email
    );
    let (_, v) = status_json(approver.api.get(&path).await).await;
    assert_eq!(ids(&v), [rejected], "{v}");
    let path = "/api/admin/change-requests?closed=true&since=2999-01-01T00:00:00Z";
    let (_, v) = status_json(approver.api.get(path).await).await;
    assert_eq!(ids(&v), Vec::<i64>::new(), "{v}");
    let (status, _) = status_json(
        approver
            .api
            .get("/api/admin/change-requests?since=soon")
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // The open tabs keep the open one only.
    let html = page(&reader, "/change-requests?tab=open").await;
    assert_eq!(listed(&html), [open]);
}

#[tokio::test]
async fn a_draft_untouched_for_two_weeks_is_stale_and_cancelled_in_one_click() {
    let app = TestApp::spawn().await;
    app.admin().api.new_flag(PROJECT, "checkout").await;
    let editor = app.user("editor");
    let other_editor = app.user("editor");
    let approver = app.user("approver");
    let draft = stage_switch_on(&editor.api).await;

    // Fresh: not stale, and nobody but its author cancels it.
    let ab = app.signed_in(&approver.email).await;
    let html = page(&ab, "/change-requests?tab=open").await;
    assert!(!html.contains("stale draft"), "{html}");
    let r = approver
        .api
        .change_request_step(draft, "cancel", None)
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Fifteen days later (the server's clock is real: the draft is made older instead).
    let mut db = app.sql().await;
    switchyard::db::query(
        "update change_requests set updated_at = '2020-01-01T00:00:00.000Z' where id = ?",
    )
    .bind(draft)
    .execute(&mut db)
    .await
    .unwrap();

    let cancel = format!("/change-requests/{draft}/cancel");
    let ob = app.signed_in(&other_editor.email).await;
    let html = page(&ob, "/change-requests?tab=open").await;
    assert!(html.contains("stale draft"), "{html}");
    assert!(
        !html.contains(&format!("action=\"{cancel}\"")),
        "editors cancel only their own: {html}"
    );
    let eb = app.signed_in(&editor.email).await;
    let html = page(&eb, "/change-requests?tab=mine").await;
    assert!(
        html.contains(&format!("action=\"{cancel}\"")),
        "its author may: {html}"
    );

    let html = page(&ab, "/change-requests?tab=open").await;
    assert!(html.contains("stale draft"), "{html}");
    assert!(html.contains(&format!("action=\"{cancel}\"")), "{html}");
    let (status, to) = post(&ab, &cancel, &[("from", "open")]).await;
    assert_eq!(
        (status, to.as_str()),
        (StatusCode::SEE_OTHER, "/change-requests?tab=open")
    );
    let (_, cr) = status_json(approver.api.change_request(draft).await).await;
    assert_eq!(cr["changeRequest"]["state"], "cancelled", "{cr}");
    let html = page(&ab, "/change-requests?tab=open").await;
    assert!(
        html.contains(&format!("Cancelled the draft #{draft}.")),
        "{html}"
    );
    assert!(!html.contains("stale draft"), "{html}");
}

fn rollout(percent: &str) -> Value {
    json!([{
        "name": "flexibleRollout",
        "parameters": {"rollout": percent, "stickiness": "default", "groupId": "checkout"},
        "constraints": [{"contextName": "country", "operator": "IN", "values": ["DE", "FR"]}],
        "variants": [{"name": "blue", "weight": 1000, "weightType": "variable", "stickiness": "default"}]
    }])
}

async fn targeting_of(api: &Api, env: &str) -> Value {
    let path =
        format!("/api/admin/projects/{PROJECT}/flags/checkout/environments/{env}/strategies");
    let (status, body) = status_json(api.get(&path).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["targeting"].clone()
}

#[tokio::test]
async fn copying_targeting_applies_where_unprotected_stages_where_protected_and_refuses_viewers() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    let editor = app.user("editor");
    let viewer = app.user("viewer");
    let path = |env: &str| {
        format!("/api/admin/projects/{PROJECT}/flags/checkout/environments/{env}/strategies")
    };
    let r = editor
        .api
        .send(Method::PUT, &path("development"), Some(&rollout("30")))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let variants =
        json!([{"name": "red", "weight": 1000, "weightType": "variable", "stickiness": "default"}]);
    let vpath =
        format!("/api/admin/projects/{PROJECT}/flags/checkout/environments/development/variants");
    let r = editor.api.send(Method::PUT, &vpath, Some(&variants)).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let copy = |to: &str, from: &str| {
        format!("/api/admin/projects/{PROJECT}/flags/checkout/environments/{to}/copy-from/{from}")
    };

    // A viewer may not; nothing changes.
    let r = viewer
        .api
        .send(Method::POST, &copy("staging", "development"), None)
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        targeting_of(&admin.api, "staging").await["strategies"],
        json!([])
    );

    // Unprotected: applied at once, strategies and variants alike.
    let (status, body) = status_json(
        editor
            .api
            .send(Method::POST, &copy("staging", "development"), None)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let source = targeting_of(&admin.api, "development").await;
    let staging = targeting_of(&admin.api, "staging").await;
    assert_eq!(staging["strategies"], source["strategies"]);
    assert_eq!(staging["variants"], source["variants"]);
    assert_eq!(staging["enabled"], false, "the switch stays as it was");
    let (_, entries) = status_json(admin.api.audit("action=flag.strategies-replaced").await).await;
    let in_staging = entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["environmentKey"] == "staging")
        .count();
    assert_eq!(in_staging, 1, "audited once: {entries}");

    // Again: nothing left to copy.
    let (status, body) = status_json(
        editor
            .api
            .send(Method::POST, &copy("staging", "development"), None)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "nothing-to-copy");
    let (status, _) = status_json(
        editor
            .api
            .send(Method::POST, &copy("staging", "staging"), None)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Protected: staged into the editor's draft, production untouched.
    let (status, body) = status_json(
        editor
            .api
            .send(Method::POST, &copy("production", "staging"), None)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let cr = &body["changeRequest"];
    assert_eq!(cr["state"], "draft");
    assert_eq!(cr["environment"], "production");
    let kinds: Vec<&str> = cr["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["strategies", "variants"], "{cr}");
    assert_eq!(
        targeting_of(&admin.api, "production").await["strategies"],
        json!([])
    );
    let r = viewer
        .api
        .send(Method::POST, &copy("production", "staging"), None)
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn pages_say_what_happens_never_changed_archive_approvals_and_submit_errors() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    let owner = app.user("owner");
    let ob = app.signed_in(&owner.email).await;

    let html = page(&ob, FLAG).await;
    assert!(
        env_row(&html, "staging").contains("never changed"),
        "{html}"
    );
    assert!(
        html.contains("Archive checkout? SDKs will no longer receive it."),
        "{html}"
    );

    admin
        .api
        .force_toggle(PROJECT, "checkout", "production", true)
        .await;
    let html = page(&ob, FLAG).await;
    assert!(env_row(&html, "production").contains("changed "), "{html}");
    assert!(
        !env_row(&html, "production").contains("never changed"),
        "{html}"
    );
    assert!(
        html.contains(
            "Propose archiving checkout? It is on in production, a protected environment"
        ),
        "{html}"
    );
    assert!(!html.contains("SDKs will no longer receive it"), "{html}");

    // Approvals are chosen only where changes are reviewed.
    let project = page(&ob, "/projects/web").await;
    assert!(
        !project.contains("Approvals needed in staging"),
        "{project}"
    );
    let staging = format!("/projects/{PROJECT}/environments/staging/protection");
    let (status, _) = post(
        &ob,
        &staging,
        &[("protected", "on"), ("required_approvals", "1")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(page(&ob, "/projects/web")
        .await
        .contains("Approvals needed in staging"));

    // The submit form leaves checking to the app, which names every missing field.
    let id = stage_switch_on(&owner.api).await;
    let html = page(&ob, &format!("/change-requests/{id}")).await;
    assert!(
        html.contains(&format!(
            "action=\"/change-requests/{id}/submit\" novalidate"
        )),
        "{html}"
    );
    let csrf = ob.csrf().await;
    let r = ob
        .post_form(
            &format!("/change-requests/{id}/submit"),
            &[("csrf_token", csrf.as_str()), ("title", ""), ("reason", "")],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("give the change request a title"), "{html}");
    assert!(
        html.contains("say why, in at most 5000 characters"),
        "{html}"
    );
}
