//! Change requests over HTTP (issue 4; reliability plan B): the workflow's transitions and
//! refusals, four eyes, concurrency, conflicts, scheduling across a restart, the kill switch.

use crate::support::{Actor, Api, TestApp, PROJECT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn status_json(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Proposes switching `key` on in production as `api`; returns the draft's id.
async fn propose_on(api: &Api, key: &str) -> i64 {
    let (status, body) = status_json(api.toggle(PROJECT, key, "production", true).await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["changeRequest"]["state"], "draft", "{body}");
    body["changeRequest"]["id"].as_i64().unwrap()
}

async fn step(api: &Api, id: i64, verb: &str, body: Option<Value>) -> (StatusCode, Value) {
    status_json(api.change_request_step(id, verb, body.as_ref()).await).await
}

async fn submit(api: &Api, id: i64) {
    let body = json!({"title": "Roll out", "reason": "ready for everyone"});
    let (status, answer) = step(api, id, "submit", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["changeRequest"]["state"], "in-review");
}

async fn state_of(api: &Api, id: i64) -> Value {
    let (status, body) = status_json(api.change_request(id).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["changeRequest"].clone()
}

async fn enabled_in(api: &Api, key: &str, env: &str) -> bool {
    let flag = api.flag_json(PROJECT, key).await;
    flag["flag"]["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["environment"] == env)
        .unwrap()["enabled"]
        .as_bool()
        .unwrap()
}

async fn audit_actions(api: &Api, query: &str) -> Vec<Value> {
    let (status, body) = status_json(api.audit(query).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["entries"].as_array().cloned().unwrap_or_default()
}

/// Polls the client API until the flag shows `enabled` (the feed follows within a second).
async fn feed_shows(app: &TestApp, token: &str, key: &str, enabled: bool) -> Duration {
    let http = reqwest::Client::new();
    let start = Instant::now();
    loop {
        let r = http
            .get(app.url("/api/client/features"))
            .header("Authorization", token)
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::OK {
            let body: Value = r.json().await.unwrap();
            let found = body["features"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["name"] == key && f["enabled"] == enabled);
            if found {
                return start.elapsed();
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the feed never showed {key} enabled={enabled}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_protected_change_is_staged_reviewed_applied_and_reaches_the_feed() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let editor = app.user("editor");
    let approver = app.user("approver");
    admin.api.new_flag(PROJECT, "checkout").await;
    let token = app.feed_token("client", PROJECT, "production");
    feed_shows(&app, &token, "checkout", false).await;

    let id = propose_on(&editor.api, "checkout").await;
    // A second change collects in the same draft.
    let strategies = json!([{"name": "flexibleRollout", "parameters": {"rollout": "25"}}]);
    let r = editor
        .api
        .send(
            Method::PUT,
            &format!(
                "/api/admin/projects/{PROJECT}/flags/checkout/environments/production/strategies"
            ),
            Some(&strategies),
        )
        .await;
    let (status, body) = status_json(r).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["changeRequest"]["id"], id);
    let items = body["changeRequest"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["before"], json!({"enabled": false}));
    assert_eq!(items[0]["after"], json!({"enabled": true}));
    assert_eq!(
        items[1]["after"]["strategies"][0]["parameters"]["rollout"],
        "25"
    );
    assert!(!enabled_in(&admin.api, "checkout", "production").await);

    let (status, _) = step(&editor.api, id, "submit", Some(json!({"reason": "x"}))).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a title is needed"
    );
    submit(&editor.api, id).await;
    let (status, body) = step(&approver.api, id, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["changeRequest"]["state"], "approved");
    assert_eq!(
        body["changeRequest"]["approvals"][0]["user"],
        approver.email
    );
    let (status, body) = step(&approver.api, id, "apply", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["changeRequest"]["state"], "applied");
    assert!(enabled_in(&admin.api, "checkout", "production").await);
    let waited = feed_shows(&app, &token, "checkout", true).await;
    assert!(waited < Duration::from_secs(1), "the feed took {waited:?}");

    let applied = audit_actions(&admin.api, "action=change-request.applied").await;
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0]["after"]["approvers"], json!([approver.email]));
    assert_eq!(applied[0]["after"]["author"], editor.email.as_str());
    assert_eq!(applied[0]["after"]["changeRequest"], id);

    // Lists: mine, by state.
    let (_, mine) = status_json(editor.api.get("/api/admin/change-requests?mine=true").await).await;
    assert_eq!(mine["changeRequests"][0]["id"], id);
    let (_, none) = status_json(
        approver
            .api
            .get("/api/admin/change-requests?mine=true")
            .await,
    )
    .await;
    assert_eq!(none["changeRequests"], json!([]));
    let (_, applied) = status_json(
        admin
            .api
            .get("/api/admin/change-requests?state=applied")
            .await,
    )
    .await;
    assert_eq!(applied["changeRequests"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn every_transition_and_every_refused_one() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let author = app.user("editor");
    let approver = app.user("approver");
    let approver2 = app.user("approver");
    let owner = app.user("owner");
    for key in ["a", "b", "c"] {
        admin.api.new_flag(PROJECT, key).await;
    }
    let r = admin
        .api
        .set_protection(PROJECT, "production", true, 2)
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let id = propose_on(&author.api, "a").await;
    // Draft: nothing but submit, edit, cancel.
    for (who, verb) in [
        (&approver.api, "approve"),
        (&approver.api, "apply"),
        (&author.api, "apply"),
        (&author.api, "schedule"),
        (&owner.api, "refresh"),
    ] {
        let body = (verb == "schedule").then(|| json!({"at": "2999-01-01T00:00:00Z"}));
        let (status, answer) = step(who, id, verb, body).await;
        assert!(
            status == StatusCode::CONFLICT || status == StatusCode::FORBIDDEN,
            "{verb} on a draft: {status} {answer}"
        );
    }
    let (status, _) = step(&approver.api, id, "reject", Some(json!({"reason": "no"}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let body = json!({"title": "t", "reason": "r"});
    let (status, _) = step(&owner.api, id, "submit", Some(body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only the author submits");
    submit(&author.api, id).await;

    // In review.
    let (status, _) = step(
        &author.api,
        id,
        "submit",
        Some(json!({"title": "t", "reason": "r"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, answer) = step(&approver.api, id, "apply", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    let (status, _) = step(&approver.api, id, "reject", Some(json!({}))).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a rejection needs a reason"
    );
    let (status, answer) = step(&approver.api, id, "approve", None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["changeRequest"]["state"], "in-review", "one of two");
    // The same person again: idempotent, counted once.
    let (status, answer) = step(&approver.api, id, "approve", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        answer["changeRequest"]["approvals"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (status, _) = step(&approver.api, id, "apply", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "1 of 2 approvals");
    let (status, answer) = step(&approver2.api, id, "approve", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["changeRequest"]["state"], "approved");
    let (status, _) = step(&owner.api, id, "approve", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "already approved");

    // Any edit after approval clears the approvals and goes back to review (B8).
    let r = author
        .api
        .send(
            Method::PATCH,
            &format!("/api/admin/change-requests/{id}"),
            Some(&json!({"title": "Roll out a"})),
        )
        .await;
    let (status, answer) = status_json(r).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["changeRequest"]["state"], "in-review");
    assert_eq!(answer["changeRequest"]["approvals"], json!([]));
    let r = owner
        .api
        .send(
            Method::PATCH,
            &format!("/api/admin/change-requests/{id}"),
            Some(&json!({"title": "mine now"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "only the author edits");
    step(&approver.api, id, "approve", None).await;
    let (_, answer) = step(&owner.api, id, "approve", None).await;
    assert_eq!(answer["changeRequest"]["state"], "approved");

    // Approved: schedule needs a future time; cancel by somebody else needs an owner.
    let (status, _) = step(
        &author.api,
        id,
        "schedule",
        Some(json!({"at": "2001-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = step(&author.api, id, "schedule", Some(json!({"at": "soon"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = step(&approver.api, id, "cancel", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, answer) = step(&author.api, id, "cancel", None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["changeRequest"]["state"], "cancelled");
    for verb in ["apply", "approve", "cancel", "submit"] {
        let body = json!({"title": "t", "reason": "r"});
        let (status, _) = step(&author.api, id, verb, Some(body)).await;
        assert!(
            status == StatusCode::CONFLICT || status == StatusCode::FORBIDDEN,
            "{verb} on a cancelled request: {status}"
        );
    }
    assert!(!enabled_in(&admin.api, "a", "production").await);

    // Rejected.
    let id = propose_on(&author.api, "b").await;
    submit(&author.api, id).await;
    let (status, answer) = step(
        &owner.api,
        id,
        "reject",
        Some(json!({"reason": "not during the sale"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["changeRequest"]["state"], "rejected");
    assert_eq!(answer["changeRequest"]["outcome"], "not during the sale");
    let (status, _) = step(&owner.api, id, "apply", None).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Applied, then nothing more; comments work in any state.
    let id = propose_on(&author.api, "c").await;
    submit(&author.api, id).await;
    step(&approver.api, id, "approve", None).await;
    step(&owner.api, id, "approve", None).await;
    let (status, answer) = step(&author.api, id, "apply", None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the author applies once approved: {answer}"
    );
    for (who, verb) in [
        (&owner.api, "apply"),
        (&owner.api, "cancel"),
        (&owner.api, "approve"),
        (&author.api, "refresh"),
    ] {
        let (status, _) = step(who, id, verb, None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{verb} after apply");
    }
    let (status, answer) = step(&approver.api, id, "comments", Some(json!({"body": "nice"}))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["changeRequest"]["comments"][0]["body"], "nice");
    assert!(enabled_in(&admin.api, "c", "production").await);
}

#[tokio::test]
async fn nobody_approves_their_own_request_whatever_their_role() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let authors: Vec<Actor> = vec![
        app.user("editor"),
        app.user("approver"),
        app.user("owner"),
        app.admin(),
    ];
    for (n, author) in authors.iter().enumerate() {
        let key = format!("own-{n}");
        admin.api.new_flag(PROJECT, &key).await;
        let id = propose_on(&author.api, &key).await;
        submit(&author.api, id).await;
        let before = app.audit_count().await;
        let (status, answer) = step(&author.api, id, "approve", None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{}: {answer}", author.email);
        assert!(
            answer["message"].as_str().unwrap().contains("own"),
            "{answer}"
        );
        let (status, _) = step(&author.api, id, "reject", Some(json!({"reason": "x"}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let cr = state_of(&admin.api, id).await;
        assert_eq!(cr["state"], "in-review");
        assert_eq!(cr["approvals"], json!([]));
        assert!(!enabled_in(&admin.api, &key, "production").await);
        // The attempt is on record.
        assert_eq!(app.audit_count().await, before + 2);
    }
    let denied = audit_actions(&admin.api, "action=change-request.review-denied").await;
    assert_eq!(denied.len(), 8);
}

#[tokio::test]
async fn viewers_and_editors_cannot_approve() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "x").await;
    let author = app.user("editor");
    let id = propose_on(&author.api, "x").await;
    submit(&author.api, id).await;
    for role in ["viewer", "editor"] {
        let someone = app.user(role);
        let (status, answer) = step(&someone.api, id, "approve", None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role}: {answer}");
        let (status, _) = step(&someone.api, id, "reject", Some(json!({"reason": "x"}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role}");
    }
    let viewer = app.user("viewer");
    let (status, _) = status_json(viewer.api.toggle(PROJECT, "x", "production", false).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "viewers propose nothing");
    let cr = state_of(&admin.api, id).await;
    assert_eq!(
        (
            cr["state"].as_str(),
            cr["approvals"].as_array().unwrap().len()
        ),
        (Some("in-review"), 0)
    );
}

#[tokio::test]
async fn concurrent_approvals_and_applies_count_once_and_apply_once() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let r = admin
        .api
        .set_protection(PROJECT, "production", true, 3)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    admin.api.new_flag(PROJECT, "race").await;
    let author = app.user("editor");
    let id = propose_on(&author.api, "race").await;
    submit(&author.api, id).await;
    let reviewers: Vec<Api> = vec![
        app.user("approver").api,
        app.user("approver").api,
        app.user("approver").api,
        app.user("owner").api,
        app.user("owner").api,
        admin.api.clone(),
    ];
    let version_before: i64 = {
        let flag = admin.api.flag_json(PROJECT, "race").await;
        flag["flag"]["environments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["environment"] == "production")
            .unwrap()["version"]
            .as_i64()
            .unwrap()
    };

    // Wave one: 50 approve/apply calls at once; wave two: 50 applies, so that one surely lands.
    let mut applied = 0;
    for wave in 0..2 {
        let mut calls = Vec::new();
        for i in 0..50usize {
            let api = reviewers[(i / 2) % reviewers.len()].clone();
            let verb = if wave == 0 && i % 2 == 0 {
                "approve"
            } else {
                "apply"
            };
            calls.push(tokio::spawn(async move {
                let r = api.change_request_step(id, verb, None).await;
                (verb, r.status())
            }));
        }
        for c in calls {
            let (verb, status) = c.await.unwrap();
            assert!(
                status == StatusCode::OK || status == StatusCode::CONFLICT,
                "{verb}: {status}"
            );
            if verb == "apply" && status == StatusCode::OK {
                applied += 1;
            }
        }
    }
    assert_eq!(applied, 1, "exactly one apply succeeds");
    let cr = state_of(&admin.api, id).await;
    assert_eq!(cr["state"], "applied");
    let approvers: Vec<&str> = cr["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["user"].as_str().unwrap())
        .collect();
    let mut distinct = approvers.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        approvers.len(),
        3,
        "exactly the required approvals: {approvers:?}"
    );
    assert_eq!(distinct.len(), 3);
    let mut db = app.sql().await;
    let rows: i64 = switchyard::db::query_scalar(
        "select count(*) from change_request_approvals where change_request_id = ?",
    )
    .bind(id)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(rows, 3);
    assert_eq!(
        audit_actions(&admin.api, "action=change-request.applied")
            .await
            .len(),
        1
    );
    assert_eq!(
        audit_actions(&admin.api, "action=change-request.approved")
            .await
            .len(),
        3
    );
    assert_eq!(
        audit_actions(&admin.api, "action=flag.enabled&flag=race")
            .await
            .len(),
        1
    );
    let flag = admin.api.flag_json(PROJECT, "race").await;
    let prod = flag["flag"]["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["environment"] == "production")
        .unwrap()
        .clone();
    assert_eq!(prod["enabled"], true);
    assert_eq!(
        prod["version"].as_i64().unwrap(),
        version_before + 1,
        "changed once"
    );
}

#[tokio::test]
async fn a_conflict_refuses_apply_and_overwrites_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "pay").await;
    let first = app.user("editor");
    let second = app.user("editor");
    let approver = app.user("approver");
    let prod =
        format!("/api/admin/projects/{PROJECT}/flags/pay/environments/production/strategies");

    // Two requests against the same version of pay's production targeting.
    let r = first
        .api
        .send(
            Method::PUT,
            &prod,
            Some(&json!([{"name": "userWithId", "parameters": {"userIds": "1"}}])),
        )
        .await;
    let (status, body) = status_json(r).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let cr1 = body["changeRequest"]["id"].as_i64().unwrap();
    let r = second
        .api
        .send(
            Method::PUT,
            &prod,
            Some(&json!([{"name": "userWithId", "parameters": {"userIds": "2"}}])),
        )
        .await;
    let (_, body) = status_json(r).await;
    let cr2 = body["changeRequest"]["id"].as_i64().unwrap();
    for (author, id) in [(&first, cr1), (&second, cr2)] {
        submit(&author.api, id).await;
        let (status, _) = step(&approver.api, id, "approve", None).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _) = step(&approver.api, cr2, "apply", None).await;
    assert_eq!(status, StatusCode::OK);
    let fingerprint = app.fingerprint().await;
    let live: Value = admin.api.get(&prod).await.json().await.unwrap();
    assert_eq!(
        live["targeting"]["strategies"][0]["parameters"]["userIds"],
        "2"
    );

    let cr = state_of(&admin.api, cr1).await;
    assert_eq!(
        cr["items"][0]["conflict"], true,
        "the page can warn before applying"
    );
    let (status, body) = step(&approver.api, cr1, "apply", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "change-conflict");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("strategies of pay"), "{message}");
    let after: Value = admin.api.get(&prod).await.json().await.unwrap();
    assert_eq!(after["targeting"], live["targeting"], "nothing overwritten");
    let cr = state_of(&admin.api, cr1).await;
    assert_eq!(cr["state"], "failed");
    assert!(cr["outcome"].as_str().unwrap().contains("version"));
    // Only the failure was recorded.
    let now = app.fingerprint().await;
    let count = |f: &str| f.lines().last().unwrap().parse::<i64>().unwrap();
    assert_eq!(count(&now), count(&fingerprint) + 1);
    assert_eq!(
        now.lines().take(7).collect::<Vec<_>>(),
        fingerprint.lines().take(7).collect::<Vec<_>>()
    );

    // Refreshed on the live configuration, approved again, it applies.
    let (status, _) = step(&approver.api, cr1, "refresh", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only the author refreshes");
    let (status, body) = step(&first.api, cr1, "refresh", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["changeRequest"]["state"], "in-review");
    assert_eq!(body["changeRequest"]["items"][0]["conflict"], false);
    step(&approver.api, cr1, "approve", None).await;
    let (status, body) = step(&approver.api, cr1, "apply", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let live: Value = admin.api.get(&prod).await.json().await.unwrap();
    assert_eq!(
        live["targeting"]["strategies"][0]["parameters"]["userIds"],
        "1"
    );
}

#[tokio::test]
async fn a_scheduled_request_is_applied_by_the_job_after_a_restart() {
    let clock_dir = tempfile::tempdir().unwrap();
    let clock = clock_dir.path().join("now");
    let clock_path = clock.to_str().unwrap().to_string();
    let mut app = TestApp::spawn_with_env(&[("SWITCHYARD_TEST_CLOCK_FILE", &clock_path)]).await;
    let start = chrono::Utc::now();
    std::fs::write(&clock, start.to_rfc3339()).unwrap();
    let admin = app.admin();
    let editor = app.user("editor");
    let approver = app.user("approver");
    admin.api.new_flag(PROJECT, "launch").await;
    admin.api.new_flag(PROJECT, "moved").await;

    let mut scheduled = Vec::new();
    for key in ["launch", "moved"] {
        let id = propose_on(&editor.api, key).await;
        submit(&editor.api, id).await;
        step(&approver.api, id, "approve", None).await;
        let at = (start + chrono::Duration::hours(1)).to_rfc3339();
        let (status, body) = step(&editor.api, id, "schedule", Some(json!({"at": at}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["changeRequest"]["state"], "scheduled");
        scheduled.push(id);
    }
    // The live configuration of "moved" changes meanwhile: its request must fail, not overwrite.
    admin
        .api
        .force_toggle(PROJECT, "moved", "production", true)
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        state_of(&admin.api, scheduled[0]).await["state"],
        "scheduled",
        "not yet due"
    );

    let tokens: Vec<Option<String>> = vec![admin.api.token.clone()];
    std::fs::write(&clock, (start + chrono::Duration::hours(2)).to_rfc3339()).unwrap();
    app.restart().await;
    let admin = app.api(tokens[0].clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let a = state_of(&admin, scheduled[0]).await;
        let b = state_of(&admin, scheduled[1]).await;
        if a["state"] == "applied" && b["state"] == "failed" {
            assert_eq!(a["appliedBy"], "scheduler");
            assert!(b["outcome"].as_str().unwrap().contains("version"), "{b}");
            break;
        }
        assert!(Instant::now() < deadline, "not applied by the job: {a} {b}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(enabled_in(&admin, "launch", "production").await);
    assert!(enabled_in(&admin, "moved", "production").await);
    let token = app.feed_token("client", PROJECT, "production");
    feed_shows(&app, &token, "launch", true).await;
}

#[tokio::test]
async fn the_kill_switch_acts_at_once_and_waits_for_an_acknowledgement() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "search").await;
    admin
        .api
        .force_toggle(PROJECT, "search", "production", true)
        .await;
    let editor = app.user("editor");
    let viewer = app.user("viewer");
    let other_editor = app.user("editor");
    let approver = app.user("approver");

    let (status, _) = status_json(
        viewer
            .api
            .kill(PROJECT, "search", "production", &json!({"reason": "x"}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = status_json(
        editor
            .api
            .kill(PROJECT, "search", "production", &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(enabled_in(&admin.api, "search", "production").await);
    let (status, body) = status_json(
        editor
            .api
            .kill(
                PROJECT,
                "search",
                "production",
                &json!({"reason": "500s on search"}),
            )
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!enabled_in(&admin.api, "search", "production").await);
    let kill = body["kill"]["id"].as_i64().unwrap();
    let killed = audit_actions(&admin.api, "action=flag.killed").await;
    assert_eq!(killed.len(), 1);
    assert_eq!(killed[0]["reason"], "500s on search");
    assert_eq!(killed[0]["after"]["emergency"], true);

    let open = format!("/api/admin/projects/{PROJECT}/kills?open=true");
    let (_, list) = status_json(admin.api.get(&open).await).await;
    assert_eq!(list["kills"][0]["id"], kill);
    let ack = format!("/api/admin/projects/{PROJECT}/kills/{kill}/acknowledge");
    let body = json!({"note": "seen"});
    let r = editor.api.send(Method::POST, &ack, Some(&body)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "not one's own kill");
    let r = other_editor.api.send(Method::POST, &ack, Some(&body)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "approvers acknowledge");
    let (status, answer) =
        status_json(approver.api.send(Method::POST, &ack, Some(&body)).await).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["kill"]["acknowledgedBy"], approver.email);
    let r = admin.api.send(Method::POST, &ack, Some(&body)).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let (_, list) = status_json(admin.api.get(&open).await).await;
    assert_eq!(list["kills"], json!([]));
}

#[tokio::test]
async fn protection_is_an_owners_setting_and_production_an_admins() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let owner = app.user("owner");
    let (status, body) =
        status_json(owner.api.set_protection(PROJECT, "staging", true, 2).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["environment"]["requiredApprovals"], 2);
    let r = owner
        .api
        .set_protection(PROJECT, "production", false, 1)
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    for n in [0, 6] {
        let r = admin
            .api
            .set_protection(PROJECT, "production", true, n)
            .await;
        assert_eq!(
            r.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{n} approvals"
        );
    }
    let set = audit_actions(&admin.api, "action=environment.protection-set").await;
    assert_eq!(set.len(), 1);
    // Staging is protected now: writes there are proposed.
    admin.api.new_flag(PROJECT, "s").await;
    let r = owner.api.toggle(PROJECT, "s", "staging", true).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
}

/// Reviving an archived flag must not make it live again where it was on (issue 4): like Unleash,
/// a revived flag comes back off in every environment, and each switch turned off is audited.
#[tokio::test]
async fn a_revived_flag_comes_back_off_everywhere_even_where_it_was_live() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let editor = app.user("editor");
    let approver = app.user("approver");
    admin.api.new_flag(PROJECT, "legacy").await;
    admin
        .api
        .force_toggle(PROJECT, "legacy", "production", true)
        .await;
    let r = admin
        .api
        .toggle(PROJECT, "legacy", "development", true)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let token = app.feed_token("client", PROJECT, "production");
    feed_shows(&app, &token, "legacy", true).await;

    // Archiving a flag live in production goes through review; once applied the switches stay
    // as they were, out of every feed.
    let (status, body) = status_json(editor.api.archive(PROJECT, "legacy").await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["changeRequest"]["id"].as_i64().unwrap();
    submit(&editor.api, id).await;
    assert_eq!(
        step(&approver.api, id, "approve", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        step(&approver.api, id, "apply", None).await.0,
        StatusCode::OK
    );
    let flag = admin.api.flag_json(PROJECT, "legacy").await;
    assert!(flag["flag"]["archivedAt"].is_string(), "{flag}");

    let (status, body) = status_json(editor.api.revive(PROJECT, "legacy").await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for env in ["development", "staging", "production"] {
        assert!(!enabled_in(&admin.api, "legacy", env).await, "{env}");
    }
    feed_shows(&app, &token, "legacy", false).await;
    let entries = audit_actions(&admin.api, "flag=legacy&action=flag.disabled").await;
    let mut envs: Vec<&str> = entries
        .iter()
        .filter(|e| e["reason"] == "revived flags come back off in every environment")
        .map(|e| e["environmentKey"].as_str().unwrap())
        .collect();
    envs.sort();
    assert_eq!(envs, ["development", "production"], "{entries:?}");
    let out = app.cli(&["audit", "verify"]);
    crate::support::assert_success(&out, "audit verify");
}
