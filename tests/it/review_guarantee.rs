//! The review guarantee, attacked (issue 11, reliability L1–L3): nothing that changes what a
//! protected environment serves skips a second person, a token never acts outside its scope,
//! and every list answers only what the caller may see.

use crate::support::{Api, TestApp, ADMIN_EMAIL, PROJECT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn status_json(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn entries(api: &Api, query: &str) -> Vec<Value> {
    let (status, body) = status_json(api.audit(query).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["entries"].as_array().cloned().unwrap_or_default()
}

/// Every project key named anywhere in a JSON answer.
fn mentions(v: &Value, key: &str) -> bool {
    match v {
        Value::String(s) => s == key || s.contains(&format!("{key}/")),
        Value::Array(a) => a.iter().any(|x| mentions(x, key)),
        Value::Object(o) => o.values().any(|x| mentions(x, key)),
        _ => false,
    }
}

#[tokio::test]
async fn scoped_tokens_stay_in_scope() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    // A second project with some history of its own.
    let wide = app.api(Some(app.instance_token(ADMIN_EMAIL)));
    let (status, body) = status_json(wide.create_project(&json!({"key": "other"})).await).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "an instance-wide admin token creates projects: {body}"
    );
    wide.new_flag("other", "secret-plan").await;

    // The admin's token bound to `web` acts as an admin inside `web` only.
    let (status, body) =
        status_json(admin.api.create_project(&json!({"key": "rogue"})).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "forbidden");
    let r = admin.api.flags("other", "").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    for query in [
        "",
        "project=other",
        "flag=secret-plan",
        "action=user.created",
    ] {
        let seen = entries(&admin.api, query).await;
        assert!(
            seen.iter().all(|e| e["projectKey"] == PROJECT),
            "?{query}: a token bound to web read {seen:?}"
        );
    }
    let (_, projects) = status_json(admin.api.get("/api/admin/projects").await).await;
    let keys: Vec<&str> = projects["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, [PROJECT]);

    // Nothing was created by the refused call, and the instance-wide token sees everything.
    let (_, all) = status_json(wide.get("/api/admin/projects").await).await;
    assert_eq!(all["projects"].as_array().unwrap().len(), 2, "{all}");
    assert!(entries(&wide, "project=other").await.len() >= 2);

    // An instance-wide token of a user who is not an admin creates nothing either.
    let editor = app.user("editor");
    let theirs = app.api(Some(app.instance_token(&editor.email)));
    let r = theirs.create_project(&json!({"key": "mine"})).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (_, seen) = status_json(theirs.get("/api/admin/projects").await).await;
    assert_eq!(seen["projects"].as_array().unwrap().len(), 1, "{seen}");
}

#[tokio::test]
async fn reads_follow_membership() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    app.user("owner");
    let former = app.user("editor");
    let never = app.stranger();
    // History, a change request and usage in `web`, some of it by the future former member.
    former.api.new_flag(PROJECT, "checkout").await;
    let r = former
        .api
        .toggle(PROJECT, "checkout", "development", true)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = former
        .api
        .toggle(PROJECT, "checkout", "production", true)
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let (status, _) = status_json(former.api.get("/api/admin/change-requests").await).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !entries(&former.api, "").await.is_empty(),
        "a member reads the project's audit"
    );

    let r = admin
        .api
        .send(
            Method::DELETE,
            &format!("/api/admin/projects/{PROJECT}/members/{}", former.email),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());

    for (who, api) in [
        ("a removed member", &former.api),
        ("a never-member", &never.api),
    ] {
        for path in [
            "/api/admin/audit".to_string(),
            format!("/api/admin/audit?project={PROJECT}"),
            "/api/admin/audit?flag=checkout".to_string(),
            "/api/admin/change-requests".to_string(),
            format!("/api/admin/change-requests?project={PROJECT}"),
            "/api/admin/projects".to_string(),
        ] {
            let (status, body) = status_json(api.get(&path).await).await;
            assert!(
                status == StatusCode::OK || status == StatusCode::NOT_FOUND,
                "{who} {path}: {status} {body}"
            );
            assert!(!mentions(&body, PROJECT), "{who} read {path}: {body}");
        }
        for path in [
            format!("/api/admin/projects/{PROJECT}"),
            format!("/api/admin/projects/{PROJECT}/flags"),
            format!("/api/admin/projects/{PROJECT}/flags/checkout"),
            format!("/api/admin/projects/{PROJECT}/flags/checkout/usage"),
            format!("/api/admin/projects/{PROJECT}/members"),
            format!("/api/admin/projects/{PROJECT}/segments"),
            "/api/admin/change-requests/1".to_string(),
        ] {
            let r = api.get(&path).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{who} {path}");
        }
    }
}

async fn protection_of(api: &Api, env: &str) -> (bool, i64) {
    let (status, body) =
        status_json(api.get(&format!("/api/admin/projects/{PROJECT}")).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let e = body["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == env)
        .unwrap()
        .clone();
    (
        e["protected"].as_bool().unwrap(),
        e["requiredApprovals"].as_i64().unwrap(),
    )
}

async fn step(api: &Api, id: i64, verb: &str) -> (StatusCode, Value) {
    let body = (verb == "submit").then(|| json!({"title": "Protection", "reason": "maintenance"}));
    let body = if verb == "reject" {
        Some(json!({"reason": "no"}))
    } else {
        body
    };
    status_json(api.change_request_step(id, verb, body.as_ref()).await).await
}

/// Reliability L1: an admin cannot unprotect production, change it and protect it again alone.
#[tokio::test]
async fn lowering_protection_needs_a_second_person() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let owner = app.user("owner");
    let approver = app.user("approver");
    let editor = app.user("editor");
    app.create_admin("second-admin@example.com");
    let second = app.api(Some(app.admin_token(PROJECT, "second-admin@example.com")));
    admin.api.new_flag(PROJECT, "pay").await;

    let (status, body) = status_json(
        admin
            .api
            .set_protection(PROJECT, "production", false, 1)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let cr = &body["changeRequest"];
    assert_eq!(cr["environment"], "production");
    assert_eq!(cr["items"][0]["kind"], "protection");
    assert_eq!(cr["items"][0]["after"]["protected"], false);
    let id = cr["id"].as_i64().unwrap();
    // Meanwhile production stays protected: a switch there is still only proposed.
    assert_eq!(protection_of(&admin.api, "production").await, (true, 1));
    let r = editor.api.toggle(PROJECT, "pay", "production", true).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    assert_eq!(step(&admin.api, id, "submit").await.0, StatusCode::OK);
    for (who, api) in [
        ("its author", &admin.api),
        ("an approver", &approver.api),
        ("an owner", &owner.api),
    ] {
        let (status, body) = step(api, id, "approve").await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{who} approved lowering production's protection: {body}"
        );
    }
    assert_eq!(protection_of(&admin.api, "production").await, (true, 1));
    let (status, body) = step(&second, id, "approve").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["changeRequest"]["state"], "approved");
    let (status, body) = step(&admin.api, id, "apply").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(protection_of(&admin.api, "production").await, (false, 1));

    // Raising applies at once; asking fewer approvals is lowering again.
    let (status, body) = status_json(
        admin
            .api
            .set_protection(PROJECT, "production", true, 2)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(protection_of(&admin.api, "production").await, (true, 2));
    let (status, body) = status_json(
        admin
            .api
            .set_protection(PROJECT, "production", true, 1)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(protection_of(&admin.api, "production").await, (true, 2));

    // Elsewhere owners set the protection, and another owner approves lowering it.
    let (status, _) =
        status_json(owner.api.set_protection(PROJECT, "staging", true, 1).await).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) =
        status_json(owner.api.set_protection(PROJECT, "staging", false, 1).await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["changeRequest"]["id"].as_i64().unwrap();
    assert_eq!(step(&owner.api, id, "submit").await.0, StatusCode::OK);
    assert_eq!(
        step(&approver.api, id, "approve").await.0,
        StatusCode::FORBIDDEN
    );
    let other_owner = app.user("owner");
    let (status, body) = step(&other_owner.api, id, "approve").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(step(&owner.api, id, "apply").await.0, StatusCode::OK);
    assert_eq!(protection_of(&admin.api, "staging").await, (false, 1));

    // Each setting that took effect is audited, once.
    let set = entries(&admin.api, "action=environment.protection-set").await;
    assert_eq!(set.len(), 4, "{set:?}");
}

/// The flags the frontend API of `token`'s environment serves as on, once the feed has caught
/// up with `expect` (it follows a commit within a second).
async fn frontend_serves(app: &TestApp, token: &str, key: &str, expect: bool) {
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = http
            .get(app.url("/api/frontend"))
            .header("Authorization", token)
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::OK {
            let body: Value = r.json().await.unwrap();
            let on = body["toggles"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["name"] == key && t["enabled"] == true);
            if on == expect {
                return;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the frontend API never served {key} as {expect}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The served answer of `key` stays `expect` for a while: nothing reached the feed.
async fn still_serves(app: &TestApp, token: &str, key: &str, expect: bool) {
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    frontend_serves(app, token, key, expect).await;
}

fn deps_path(key: &str) -> String {
    format!("/api/admin/projects/{PROJECT}/flags/{key}/dependencies")
}

/// Issue 11, item 1: dependencies change what every environment serves, so a dependency change
/// that alters a protected environment goes through a change request there.
#[tokio::test]
async fn dependency_changes_that_alter_production_are_reviewed() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let editor = app.user("editor");
    let approver = app.user("approver");
    let prod = app.feed_token("frontend", PROJECT, "production");
    for key in ["payments-v2", "checkout-v2", "search"] {
        admin.api.new_flag(PROJECT, key).await;
    }
    // While checkout-v2 is off in production, its dependencies serve nothing there: at once.
    let on_parent = json!([{"feature": "payments-v2"}]);
    let (status, body) = status_json(
        editor
            .api
            .send(Method::PUT, &deps_path("checkout-v2"), Some(&on_parent))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["environments"], json!([]), "{body}");
    admin
        .api
        .force_toggle(PROJECT, "checkout-v2", "production", true)
        .await;
    admin
        .api
        .force_toggle(PROJECT, "search", "production", true)
        .await;
    frontend_serves(&app, &prod, "search", true).await;
    frontend_serves(&app, &prod, "checkout-v2", false).await;

    // Removing the dependency would switch checkout-v2 on in production: a change request.
    let (status, body) = status_json(
        editor
            .api
            .send(Method::PUT, &deps_path("checkout-v2"), Some(&json!([])))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let cr = &body["changeRequest"];
    assert_eq!(cr["environment"], "production", "{body}");
    assert_eq!(cr["items"][0]["kind"], "dependencies");
    assert_eq!(
        cr["items"][0]["after"]["environments"],
        json!(["production"])
    );
    let removal = cr["id"].as_i64().unwrap();
    // Adding one to a live flag would switch search off there: another item of the draft.
    let (status, body) = status_json(
        editor
            .api
            .send(Method::PUT, &deps_path("search"), Some(&on_parent))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["changeRequest"]["id"], removal);
    // Nothing changed meanwhile, for the API or for SDKs.
    let (_, deps) = status_json(editor.api.get(&deps_path("checkout-v2")).await).await;
    assert_eq!(deps["dependencies"][0]["feature"], "payments-v2", "{deps}");
    still_serves(&app, &prod, "checkout-v2", false).await;
    frontend_serves(&app, &prod, "search", true).await;

    // Reviewed and applied, both reach production, and the audit names where they served anew.
    assert_eq!(step(&editor.api, removal, "submit").await.0, StatusCode::OK);
    assert_eq!(
        step(&editor.api, removal, "approve").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        step(&approver.api, removal, "approve").await.0,
        StatusCode::OK
    );
    let (status, body) = step(&editor.api, removal, "apply").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    frontend_serves(&app, &prod, "checkout-v2", true).await;
    frontend_serves(&app, &prod, "search", false).await;
    let replaced = entries(&admin.api, "action=flag.dependencies-replaced").await;
    assert_eq!(replaced.len(), 3, "{replaced:?}");
    assert_eq!(replaced[0]["after"]["environments"], json!(["production"]));
    assert!(replaced[0]["target"]
        .as_str()
        .unwrap()
        .contains("production"));
}

/// Archiving a flag that is off everywhere changes nothing served; archiving a parent that a
/// live flag depends on (on being off) would change what production serves, and is refused
/// outright while that flag depends on it (issue 12, item 4), before any review.
#[tokio::test]
async fn archiving_a_parent_that_a_live_flag_needs_is_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let editor = app.user("editor");
    let prod = app.feed_token("frontend", PROJECT, "production");
    for key in ["legacy-cart", "modern-cart", "unused"] {
        admin.api.new_flag(PROJECT, key).await;
    }
    let off_parent = json!([{"feature": "legacy-cart", "enabled": false}]);
    let r = editor
        .api
        .send(Method::PUT, &deps_path("modern-cart"), Some(&off_parent))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    admin
        .api
        .force_toggle(PROJECT, "modern-cart", "production", true)
        .await;
    frontend_serves(&app, &prod, "modern-cart", true).await;

    let r = editor.api.archive(PROJECT, "unused").await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "nothing depends on it, and it is off"
    );
    let (status, body) = status_json(editor.api.archive(PROJECT, "legacy-cart").await).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("modern-cart"),
        "{body}"
    );
    still_serves(&app, &prod, "modern-cart", true).await;
}
