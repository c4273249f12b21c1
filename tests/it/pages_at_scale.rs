//! Web pages when many load at once and when the project is large (issue 11, item 17): pages
//! never wait on each other for database connections, and the segment uses that a page counts
//! come from the rows that have some. The speed itself is measured by `bench/pages.sh`.

use crate::support::{Api, TestApp, PROJECT};
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// More pages at once than the server's pool has connections (8).
const AT_ONCE: usize = 24;

async fn in_review(app: &TestApp, editor: &Api) -> i64 {
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    let r = editor.toggle(PROJECT, "checkout", "production", true).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let body: Value = r.json().await.unwrap();
    let id = body["changeRequest"]["id"].as_i64().unwrap();
    let submit = json!({"title": "Launch checkout", "reason": "QA signed off"});
    let r = editor
        .change_request_step(id, "submit", Some(&submit))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    id
}

#[tokio::test]
async fn pages_loaded_all_at_once_each_show_the_requests_waiting_for_review() {
    let app = TestApp::spawn().await;
    let editor = app.user("editor");
    let approver = app.user("approver");
    let id = in_review(&app, &editor.api).await;
    let browser = app.signed_in(&approver.email).await;
    let flag = format!("/projects/{PROJECT}/flags/checkout");
    let paths = [
        "/".to_string(),
        format!("/projects/{PROJECT}"),
        format!("/projects/{PROJECT}/flags"),
        flag.clone(),
        format!("{flag}/targeting"),
        format!("/projects/{PROJECT}/segments"),
        format!("/change-requests/{id}"),
        "/audit".to_string(),
    ];
    // Every page takes a connection of its own; the navigation's count must not need a second
    // one while the first is held, or a burst like this one stalls every page until the pool
    // gives up and the count goes missing.
    let loads = (0..AT_ONCE).map(|i| {
        let (browser, path) = (&browser, &paths[i % paths.len()]);
        async move {
            let r = browser.get(path).await;
            (path.clone(), r.status(), r.text().await.unwrap())
        }
    });
    for (path, status, html) in join_all(loads).await {
        assert_eq!(status, StatusCode::OK, "GET {path}");
        assert!(
            html.contains("class=\"nav-count\""),
            "GET {path} lost the count of requests waiting for review"
        );
    }
}

#[tokio::test]
async fn segment_uses_are_found_beside_strategies_without_segments() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    for key in ["mixed", "plain", "spaced"] {
        admin.api.new_flag(PROJECT, key).await;
    }
    let segments = format!("/api/admin/projects/{PROJECT}/segments");
    let r = admin
        .api
        .send(Method::POST, &segments, Some(&json!({"name": "beta"})))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["segment"]["id"]
        .as_i64()
        .unwrap();
    let strategies = |key: &str| {
        format!("/api/admin/projects/{PROJECT}/flags/{key}/environments/development/strategies")
    };
    // The first strategy has no segment, the second has one: the flag uses it.
    let mixed = json!([
        {"name": "default", "segments": []},
        {"name": "flexibleRollout", "parameters": {"rollout": "50", "stickiness": "default",
            "groupId": "mixed"}, "segments": [id]}
    ]);
    let put = |key: &'static str, body: Value| {
        let (api, path) = (&admin.api, strategies(key));
        async move {
            let r = api.send(Method::PUT, &path, Some(&body)).await;
            assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        }
    };
    put("mixed", mixed).await;
    let plain = json!([{"name": "default", "segments": []}, {"name": "default"}]);
    put("plain", plain).await;
    // Stored in another shape (as an older writer or a hand edit might): still found.
    let spaced = format!(r#"[{{"name": "default", "segments": [ {id} ]}}]"#);
    switchyard::db::query(
        "update flag_environments set strategies = ? where flag_id = \
         (select id from flags where key = 'spaced') and environment_id = \
         (select id from environments where key = 'development')",
    )
    .bind(&spaced)
    .execute(&mut app.sql().await)
    .await
    .unwrap();

    let one: Value = admin
        .api
        .get(&format!("{segments}/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let used: Vec<&str> = one["segment"]["usedBy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["flag"].as_str().unwrap())
        .collect();
    assert_eq!(used, ["mixed", "spaced"], "{one}");

    let browser = app.signed_in(&admin.email).await;
    let r = browser.get(&format!("/projects/{PROJECT}/segments")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("mixed (development)"), "{html}");
    assert!(!html.contains("plain (development)"), "{html}");

    let r = admin
        .api
        .send(Method::DELETE, &format!("{segments}/{id}"), None)
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "a used segment stays");
}
