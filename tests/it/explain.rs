//! The evaluation explainer over HTTP: for every case of Unleash's client specification its
//! answer is the feed's (OFREP, and the frontend API where the case's context leaves nothing for
//! the frontend API to fill in), and the expected result; and the page shows why.

use crate::support::{assert_success, encode_segment, TestApp, PROJECT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn spec_dir() -> PathBuf {
    PathBuf::from(std::env::var("UNLEASH_CLIENT_SPEC_DIR").expect(
        "UNLEASH_CLIENT_SPEC_DIR must name the specifications/ folder of \
         @unleash/client-specification 6.1.0 (.ci/run fetches it with npm pack)",
    ))
}

async fn post(http: &reqwest::Client, url: String, token: &str, body: &Value) -> Value {
    let r = http
        .post(url)
        .header("Authorization", token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    r.json().await.unwrap()
}

/// Waits until the feed takes both new tokens: each reaches the feed's index on its own.
async fn wait_ready(http: &reqwest::Client, app: &TestApp, frontend: &str, client: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let f = http
            .get(app.url("/api/frontend"))
            .header("Authorization", frontend)
            .send()
            .await
            .unwrap();
        let c = http
            .get(app.url("/api/client/features"))
            .header("Authorization", client)
            .send()
            .await
            .unwrap();
        if f.status() == 200 && c.status() == 200 {
            return;
        }
        assert!(Instant::now() < deadline, "the feed never took the token");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_explainer_answers_as_the_feed_does_for_the_client_specification() {
    let dir = spec_dir();
    let index: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("index.json")).unwrap()).unwrap();
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    let mut cases = 0;
    let mut compared_with_feed = 0;
    let mut failures = Vec::new();
    for (i, file) in index.iter().enumerate() {
        let spec: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        let project = format!("spec-{i:02}");
        assert_success(
            &app.cli(&["project", "create", "--key", &project]),
            "project create",
        );
        let state = app.dir().join(format!("{project}.json"));
        std::fs::write(&state, spec["state"].to_string()).unwrap();
        let out = app.import_unleash(&project, "development", &state);
        assert_success(&out, &format!("import {file}"));
        let admin = app.admin_token(&project, crate::support::ADMIN_EMAIL);
        let frontend = app.feed_token("frontend", &project, "development");
        let client = app.feed_token("client", &project, "development");
        wait_ready(&http, &app, &frontend, &client).await;
        let explain_url = app.url(&format!(
            "/api/admin/projects/{project}/environments/development/explain"
        ));
        let tests = spec["tests"].as_array().cloned().unwrap_or_default();
        let variants = spec["variantTests"].as_array().cloned().unwrap_or_default();
        for t in tests.iter().chain(&variants) {
            cases += 1;
            let name = t["toggleName"].as_str().unwrap();
            let expected = match &t["expectedResult"] {
                Value::Bool(b) => *b,
                v => v["feature_enabled"].as_bool().unwrap_or(false),
            };
            let body = json!({"context": t["context"], "flags": [name]});
            let explained = post(&http, explain_url.clone(), &admin, &body).await;
            let flag = explained["flags"].as_array().unwrap().first().cloned();
            let on = flag.as_ref().is_some_and(|f| f["enabled"] == true);
            let desc = &t["description"];
            if on != expected {
                failures.push(format!(
                    "{file}: {desc}: explained {on}, expected {expected}"
                ));
            }
            if let Some(f) = &flag {
                if f["reason"].as_str().unwrap_or("").is_empty() {
                    failures.push(format!("{file}: {desc}: no reason"));
                }
            }
            // OFREP fills nothing in; when it answers with a value it must be the same.
            let ofrep = ofrep_context(&t["context"]);
            let url = app.url(&format!(
                "/ofrep/v1/evaluate/flags/{}",
                encode_segment(name)
            ));
            let r = http
                .post(url)
                .header("Authorization", format!("Bearer {client}"))
                .json(&json!({ "context": ofrep }))
                .send()
                .await
                .unwrap();
            let o: Value = r.json().await.unwrap();
            if o.get("errorCode").is_none() {
                compared_with_feed += 1;
                let feed_on = o["reason"] != "DISABLED" && o["value"] == json!(true);
                if feed_on != on {
                    failures.push(format!("{file}: {desc}: explained {on}, OFREP {o}"));
                }
            }
            let filled = t["context"].get("sessionId").is_none()
                || t["context"].get("remoteAddress").is_none();
            if !filled {
                let answer = post(
                    &http,
                    app.url("/api/frontend"),
                    &frontend,
                    &json!({"context": t["context"]}),
                )
                .await;
                let feed = answer["toggles"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|x| x["name"] == name)
                    .cloned();
                compared_with_feed += 1;
                if feed.is_some() != on {
                    failures.push(format!("{file}: {desc}: explained {on}, frontend {feed:?}"));
                }
                if let (Some(feed), Some(f)) = (feed, &flag) {
                    if feed["variant"]["name"] != f["variant"]["name"]
                        && f["variantBucket"]["identity"].is_string()
                    {
                        failures.push(format!("{file}: {desc}: variant {f}, frontend {feed}"));
                    }
                }
            }
        }
    }
    assert!(cases > 250, "only {cases} cases ran");
    assert!(
        compared_with_feed > 200,
        "only {compared_with_feed} compared with the feed"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn ofrep_context(ctx: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for (k, v) in ctx.as_object().cloned().unwrap_or_default() {
        match k.as_str() {
            "userId" => drop(out.insert("targetingKey".into(), v)),
            "properties" => out.extend(v.as_object().cloned().unwrap_or_default()),
            _ => drop(out.insert(k, v)),
        }
    }
    Value::Object(out)
}

#[tokio::test]
async fn the_explainer_needs_membership_and_a_known_environment() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    let viewer = app.user("viewer");
    let stranger = app.stranger();
    let path = |env: &str| format!("/api/admin/projects/{PROJECT}/environments/{env}/explain");
    let body = json!({"context": {"userId": "42"}, "flags": ["checkout", "nope"]});
    let mut answer = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let r = viewer
            .api
            .send(Method::POST, &path("development"), Some(&body))
            .await;
        if r.status() == StatusCode::OK {
            answer = r.json().await.unwrap();
            if answer["flags"].as_array().is_some_and(|f| !f.is_empty()) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(answer["flags"][0]["flag"], "checkout", "{answer}");
    assert_eq!(answer["flags"][0]["decidedBy"], "disabled");
    assert_eq!(answer["unknownFlags"], json!(["nope"]));
    let r = stranger
        .api
        .send(Method::POST, &path("development"), Some(&body))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = viewer
        .api
        .send(Method::POST, &path("moon"), Some(&body))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let bad = json!({"context": "userId=1"});
    let r = viewer
        .api
        .send(Method::POST, &path("development"), Some(&bad))
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_page_explains_a_typed_context_and_keeps_it_when_a_field_is_wrong() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    let strategies = json!({"strategies": [{"name": "flexibleRollout",
        "parameters": {"rollout": "100", "stickiness": "default", "groupId": "checkout"},
        "constraints": [{"contextName": "country", "operator": "IN", "values": ["DE", "FR"]}]}]});
    let r = admin
        .api
        .send(
            Method::PUT,
            &format!(
                "/api/admin/projects/{PROJECT}/flags/checkout/environments/development/strategies"
            ),
            Some(&strategies),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    admin
        .api
        .toggle(PROJECT, "checkout", "development", true)
        .await;
    let viewer = app.user("viewer");
    let browser = app.signed_in(&viewer.email).await;
    let page = format!("/projects/{PROJECT}/explain");

    let empty = browser.get(&page).await;
    assert_eq!(empty.status(), StatusCode::OK);
    let html = empty.text().await.unwrap();
    assert!(html.contains("Explain an evaluation") && !html.contains("Results in"));

    let deadline = Instant::now() + Duration::from_secs(10);
    let html = loop {
        let r = browser
            .get(&format!(
                "{page}?environment=development&user_id=u-1&properties=country%3DUS"
            ))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let html = r.text().await.unwrap();
        if html.contains("No strategy matched") || Instant::now() > deadline {
            break html;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(html.contains("No strategy matched"), "{html}");
    assert!(html.contains("country in DE, FR"), "{html}");
    assert!(html.contains("bucket"), "the rollout bucket is shown");

    let on = browser
        .get(&format!(
            "{page}?environment=development&user_id=u-1&properties=country%3DDE"
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(on.contains("Strategy 1 (flexibleRollout) matched"), "{on}");

    let wrong = browser
        .get(&format!(
            "{page}?environment=development&user_id=kept-42&remote_address=nowhere&properties=plan"
        ))
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = wrong.text().await.unwrap();
    assert!(html.contains("line 1: write one property per line as name=value"));
    assert!(html.contains("is not an IP address"));
    assert!(html.contains("value=\"kept-42\""), "what was typed is kept");
    assert!(!html.contains("Results in"));
}
