//! Editing targeting through the admin API and the web form: strategies, variants, dependencies
//! and segments; validation with field paths, permissions, audit, and the feed seeing the change.

use crate::support::{encode_segment, Api, TestApp, PROJECT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn env_path(key: &str, env: &str, what: &str) -> String {
    format!(
        "/api/admin/projects/{PROJECT}/flags/{}/environments/{env}/{what}",
        encode_segment(key)
    )
}

async fn put(api: &Api, path: &str, body: &Value) -> (StatusCode, Value) {
    let r = api.send(Method::PUT, path, Some(body)).await;
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn post(api: &Api, path: &str, body: &Value) -> (StatusCode, Value) {
    let r = api.send(Method::POST, path, Some(body)).await;
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The field paths of a 422 answer.
fn fields(body: &Value) -> Vec<String> {
    body["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .map(|e| e["field"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn env_version(api: &Api, key: &str, env: &str) -> i64 {
    let flag = api.flag_json(PROJECT, key).await;
    flag["flag"]["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["environment"] == env)
        .unwrap()["version"]
        .as_i64()
        .unwrap()
}

async fn audit_actions(api: &Api, query: &str) -> Vec<String> {
    let log: Value = api.audit(query).await.json().await.unwrap();
    log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

/// The feature as `/api/client/features` serves it to `token`, once `check` holds (≤ 5 s after
/// the token is accepted).
async fn feed_feature(app: &TestApp, token: &str, key: &str, check: impl Fn(&Value) -> bool) {
    let http = reqwest::Client::new();
    let get = || async {
        http.get(app.url("/api/client/features"))
            .header("Authorization", token)
            // A current SDK: segments stay a top-level list instead of being inlined (spec 2.2).
            .header("Unleash-Client-Spec", "5.2.0")
            .send()
            .await
            .unwrap()
    };
    let accepted = Instant::now() + Duration::from_secs(15);
    while get().await.status() != StatusCode::OK {
        assert!(
            Instant::now() < accepted,
            "the feed never accepted the token"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let body: Value = get().await.json().await.unwrap();
        let feature = body["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == key)
            .cloned()
            .unwrap_or(Value::Null);
        if check(&feature) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the feed never showed the change: {feature}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn replaced_strategies_reach_the_client_feed_and_the_audit_log() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "checkout").await;
    let token = app.feed_token("client", PROJECT, "development");
    let strategies = json!([{
        "name": "flexibleRollout",
        "parameters": {"rollout": "25", "stickiness": "userId"},
        "constraints": [{"contextName": "country", "operator": "IN", "values": ["NO", "SE"]}],
        "variants": [{"name": "blue", "weightType": "variable"},
                     {"name": "red", "weight": 200, "weightType": "fix"}]
    }]);
    let (status, body) = put(
        &admin.api,
        &env_path("checkout", "development", "strategies"),
        &strategies,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored = &body["targeting"]["strategies"][0];
    assert_eq!(stored["parameters"]["groupId"], "checkout");
    assert_eq!(stored["variants"][0]["name"], "blue");
    assert_eq!(stored["variants"][0]["weight"], 800);
    assert_eq!(stored["variants"][1]["weight"], 200);
    feed_feature(&app, &token, "checkout", |f| {
        f["strategies"][0]["parameters"]["rollout"] == "25"
            && f["strategies"][0]["constraints"][0]["values"] == json!(["NO", "SE"])
    })
    .await;
    assert!(audit_actions(&admin.api, "flag=checkout")
        .await
        .contains(&"flag.strategies-replaced".to_string()));

    // The wrapped shape works too, and an empty list means on for everyone.
    let (status, body) = put(
        &admin.api,
        &env_path("checkout", "development", "strategies"),
        &json!({"strategies": []}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    feed_feature(&app, &token, "checkout", |f| {
        f["strategies"].as_array().is_some_and(|s| s.is_empty())
    })
    .await;
}

#[tokio::test]
async fn invalid_targeting_is_refused_with_field_paths_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let r = admin
        .api
        .create_flag(PROJECT, &json!({"key": "price", "valueType": "number"}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let path = env_path("price", "development", "strategies");
    let cases = [
        (
            json!([{"name": "default", "constraints": [
                {"contextName": "version", "operator": "SEMVER_GT", "value": "v1.2.3"}]}]),
            "strategies[0].constraints[0].value",
        ),
        (
            json!([{"name": "flexibleRollout", "parameters": {"rollout": "130"}}]),
            "strategies[0].parameters.rollout",
        ),
        (
            json!([{"name": "default", "variants": [
                {"name": "a", "weight": 600, "weightType": "fix", "payload": {"type": "number", "value": "1"}},
                {"name": "b", "weight": 500, "weightType": "fix", "payload": {"type": "number", "value": "2"}},
                {"name": "c", "payload": {"type": "number", "value": "3"}}]}]),
            "strategies[0].variants",
        ),
        (
            json!([{"name": "default", "variants": [
                {"name": "a", "payload": {"type": "string", "value": "forty"}}]}]),
            "strategies[0].variants[0].payload.value",
        ),
        (
            json!([{"name": "default", "segments": [999]}]),
            "strategies[0].segments[0]",
        ),
    ];
    let version = env_version(&admin.api, "price", "development").await;
    let before = app.fingerprint().await;
    for (body, field) in cases {
        let (status, answer) = put(&admin.api, &path, &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"], "invalid-input");
        assert!(
            fields(&answer).contains(&field.to_string()),
            "{field} not in {answer}"
        );
        assert!(answer["fields"][0]["message"].is_string());
    }
    let (status, answer) = put(
        &admin.api,
        &env_path("price", "development", "variants"),
        &json!([{"name": "a", "weight": 1000, "weightType": "fix",
                 "payload": {"type": "number", "value": "1"}}]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(fields(&answer), ["variants"]);
    assert_eq!(
        env_version(&admin.api, "price", "development").await,
        version
    );
    assert_eq!(app.fingerprint().await, before);
    let stored: Value = admin.api.get(&path).await.json().await.unwrap();
    assert_eq!(stored["targeting"]["strategies"], json!([]));

    // A number flag's variants with numbers in their payloads are fine.
    let (status, answer) = put(
        &admin.api,
        &env_path("price", "development", "variants"),
        &json!({"variants": [{"name": "low", "payload": {"type": "number", "value": "9.5"},
                 "overrides": [{"contextName": "userId", "values": ["7"]}]}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["targeting"]["variants"][0]["weight"], 1000);
    assert_eq!(
        env_version(&admin.api, "price", "development").await,
        version + 1
    );
    assert!(audit_actions(&admin.api, "flag=price")
        .await
        .contains(&"flag.variants-replaced".to_string()));
}

#[tokio::test]
async fn production_targeting_goes_into_change_requests_and_viewers_change_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "search").await;
    let editor = app.user("editor");
    let viewer = app.user("viewer");
    let owner = app.user("owner");
    let body = json!([{"name": "userWithId", "parameters": {"userIds": "1, 2"}}]);
    let prod = env_path("search", "production", "strategies");
    let dev = env_path("search", "development", "strategies");
    // Production is protected: the change is proposed (202), not applied.
    let (status, answer) = put(&editor.api, &prod, &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["changeRequest"]["state"], "draft");
    assert_eq!(answer["changeRequest"]["items"][0]["kind"], "strategies");
    let (status, _) = put(&viewer.api, &dev, &body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = put(
        &viewer.api,
        &format!("/api/admin/projects/{PROJECT}/flags/search/dependencies"),
        &json!([]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post(
        &viewer.api,
        &format!("/api/admin/projects/{PROJECT}/segments"),
        &json!({"name": "beta"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, answer) = put(&editor.api, &dev, &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = put(&owner.api, &prod, &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let live: Value = editor.api.get(&prod).await.json().await.unwrap();
    assert_eq!(
        live["targeting"]["strategies"],
        json!([]),
        "nothing applied"
    );
    // An invalid proposal is refused when it is made, not when it is applied.
    let bad = json!([{"name": "flexibleRollout", "parameters": {"rollout": "150"}}]);
    let (status, answer) = put(&editor.api, &prod, &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (status, _) = put(
        &editor.api,
        &env_path("search", "nowhere", "strategies"),
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn segments_are_created_used_and_only_deleted_when_unused() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let editor = app.user("editor");
    admin.api.new_flag(PROJECT, "beta-ui").await;
    let segments = format!("/api/admin/projects/{PROJECT}/segments");
    let (status, answer) = post(
        &editor.api,
        &segments,
        &json!({"name": "beta", "constraints": [
            {"contextName": "version", "operator": "SEMVER_GTE", "value": "1.2"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(fields(&answer), ["constraints[0].value"]);
    let (status, answer) = post(
        &editor.api,
        &segments,
        &json!({"name": "beta", "description": "beta testers", "constraints": [
            {"contextName": "plan", "operator": "IN", "values": ["beta"]}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let id = answer["segment"]["id"].as_i64().unwrap();
    let (status, answer) = post(&editor.api, &segments, &json!({"name": "beta"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(fields(&answer), ["name"]);

    let strategies = json!([{"name": "default", "segments": [id]}]);
    let path = env_path("beta-ui", "production", "strategies");
    admin.api.force(Method::PUT, &path, Some(&strategies)).await;
    let token = app.feed_token("client", PROJECT, "production");
    feed_feature(&app, &token, "beta-ui", |f| {
        f["strategies"][0]["segments"] == json!([id])
    })
    .await;

    // Used in production: changing it changes production, so it goes into a change request.
    let one = format!("{segments}/{id}");
    let change = json!({"name": "beta", "constraints": [
        {"contextName": "plan", "operator": "IN", "values": ["beta", "pilot"]}]});
    let (status, answer) = put(&editor.api, &one, &change).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["changeRequest"]["items"][0]["kind"], "segment");
    let (status, answer) = put(&admin.api, &one, &change).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let unchanged: Value = admin.api.get(&one).await.json().await.unwrap();
    assert_eq!(unchanged["segment"]["usedBy"][0]["flag"], "beta-ui");
    assert_eq!(
        unchanged["segment"]["constraints"][0]["values"],
        json!(["beta"])
    );
    admin.api.force(Method::PUT, &one, Some(&change)).await;

    let r = admin.api.send(Method::DELETE, &one, None).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let refused: Value = r.json().await.unwrap();
    assert_eq!(refused["error"], "segment-in-use");
    assert!(refused["message"].as_str().unwrap().contains("beta-ui"));

    let path = env_path("beta-ui", "production", "strategies");
    admin.api.force(Method::PUT, &path, Some(&json!([]))).await;
    let r = editor.api.send(Method::DELETE, &one, None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(admin.api.get(&one).await.status(), StatusCode::NOT_FOUND);
    let actions = audit_actions(&admin.api, "action=segment.created").await;
    assert_eq!(actions.len(), 1);
    assert_eq!(
        audit_actions(&admin.api, "action=segment.updated")
            .await
            .len(),
        1
    );
    assert_eq!(
        audit_actions(&admin.api, "action=segment.deleted")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn dependencies_need_existing_parents_one_level_deep() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    for key in ["parent", "child", "grandchild"] {
        admin.api.new_flag(PROJECT, key).await;
    }
    let deps = |key: &str| format!("/api/admin/projects/{PROJECT}/flags/{key}/dependencies");
    let (status, answer) = put(
        &admin.api,
        &deps("child"),
        &json!([{"feature": "child"}, {"feature": "missing"}]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(
        fields(&answer),
        ["dependencies[0].feature", "dependencies[1].feature"]
    );
    let (status, answer) = put(
        &admin.api,
        &deps("child"),
        &json!({"dependencies": [{"feature": "parent", "variants": ["blue"]}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["dependencies"],
        json!([{"feature": "parent", "enabled": true, "variants": ["blue"]}])
    );
    let (status, answer) = put(
        &admin.api,
        &deps("grandchild"),
        &json!([{"feature": "child"}]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (status, answer) = put(
        &admin.api,
        &deps("parent"),
        &json!([{"feature": "grandchild"}]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(fields(&answer), ["dependencies"]);
    assert!(audit_actions(&admin.api, "flag=child")
        .await
        .contains(&"flag.dependencies-replaced".to_string()));
}

#[tokio::test]
async fn the_targeting_form_saves_strategies_and_shows_errors_by_the_field() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "banner").await;
    let browser = app.signed_in(crate::support::ADMIN_EMAIL).await;
    let page = format!("/projects/{PROJECT}/flags/banner/targeting?env=development");
    let r = browser.get(&page).await;
    assert_eq!(r.status(), StatusCode::OK);
    let csrf = crate::support::meta_csrf(&r.text().await.unwrap()).unwrap();
    let action = format!("/projects/{PROJECT}/flags/banner/targeting?env=development");

    // Adding a constraint re-renders the form with what was typed, and stores nothing.
    let r = browser
        .post_form(
            &action,
            &[
                ("csrf_token", &csrf),
                ("s0.name", "flexibleRollout"),
                ("s0.rollout", "130"),
                ("action", "add-constraint:0"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("name=\"s0.c0.context\""), "no new constraint");
    assert!(html.contains("value=\"130\""), "typed rollout lost");

    let r = browser
        .post_form(
            &action,
            &[
                ("csrf_token", &csrf),
                ("s0.name", "flexibleRollout"),
                ("s0.rollout", "130"),
                ("s0.c0.context", "country"),
                ("s0.c0.operator", "IN"),
                ("s0.c0.values", "NO, SE"),
                ("action", "save"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("Rollout must be a whole number"), "{html}");
    assert!(html.contains("NO, SE"));

    let r = browser
        .post_form(
            &action,
            &[
                ("csrf_token", &csrf),
                ("s0.name", "flexibleRollout"),
                ("s0.rollout", "30"),
                ("s0.stickiness", "default"),
                ("s0.c0.context", "country"),
                ("s0.c0.operator", "IN"),
                ("s0.c0.values", "NO\nSE"),
                ("action", "save"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let stored: Value = admin
        .api
        .get(&env_path("banner", "development", "strategies"))
        .await
        .json()
        .await
        .unwrap();
    let s = &stored["targeting"]["strategies"][0];
    assert_eq!(s["parameters"]["rollout"], "30");
    assert_eq!(s["constraints"][0]["values"], json!(["NO", "SE"]));
    let html = browser.get(&page).await.text().await.unwrap();
    assert!(
        html.contains("Flexible rollout 30 % by default"),
        "no summary in words"
    );
}

#[tokio::test]
async fn web_changes_to_production_are_staged_in_the_editors_draft() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "promo").await;
    let editor = app.user("editor");
    let browser = app.signed_in(&editor.email).await;
    let page = format!("/projects/{PROJECT}/flags/promo/targeting?env=production");
    let r = browser.get(&page).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Save production targeting"), "no form");
    let csrf = crate::support::meta_csrf(&html).unwrap();

    // Saving the Targeting tab stages the strategies into the editor's draft.
    let r = browser
        .post_form(
            &page,
            &[
                ("csrf_token", &csrf),
                ("s0.name", "flexibleRollout"),
                ("s0.rollout", "25"),
                ("s0.stickiness", "default"),
                ("action", "save"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    let id: i64 = to
        .strip_prefix("/change-requests/")
        .unwrap()
        .parse()
        .unwrap();
    let html = browser.get(&to).await.text().await.unwrap();
    assert!(
        html.contains(&format!("Added to your draft change request #{id}")),
        "{html}"
    );
    let live: Value = admin
        .api
        .get(&env_path("promo", "production", "strategies"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        live["targeting"]["strategies"],
        json!([]),
        "nothing applied"
    );

    // An invalid rollout is refused on the form, nothing staged.
    let r = browser
        .post_form(
            &page,
            &[
                ("csrf_token", &csrf),
                ("s0.name", "flexibleRollout"),
                ("s0.rollout", "150"),
                ("action", "save"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Archiving a flag that is live in production joins the same draft.
    admin
        .api
        .force_toggle(PROJECT, "promo", "production", true)
        .await;
    let r = browser
        .post_form(
            &format!("/projects/{PROJECT}/flags/promo/archive"),
            &[("csrf_token", &csrf)],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], format!("/change-requests/{id}"));
    let flag = admin.api.flag_json(PROJECT, "promo").await;
    assert!(flag["flag"]["archivedAt"].is_null(), "not archived: {flag}");

    // A segment production uses: saving it is staged too.
    let (status, answer) = post(
        &admin.api,
        &format!("/api/admin/projects/{PROJECT}/segments"),
        &json!({"name": "beta", "constraints": [
            {"contextName": "plan", "operator": "IN", "values": ["beta"]}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let seg = answer["segment"]["id"].as_i64().unwrap();
    let strategies = json!([{"name": "default", "segments": [seg]}]);
    let path = env_path("promo", "production", "strategies");
    admin.api.force(Method::PUT, &path, Some(&strategies)).await;
    let r = browser
        .post_form(
            &format!("/projects/{PROJECT}/segments/{seg}"),
            &[
                ("csrf_token", &csrf),
                ("name", "beta"),
                ("description", "beta testers"),
                ("c0.context", "plan"),
                ("c0.operator", "IN"),
                ("c0.values", "beta, pilot"),
                ("action", "save"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], format!("/change-requests/{id}"));
    let (status, cr) = {
        let r = admin.api.change_request(id).await;
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(status, StatusCode::OK);
    let kinds: Vec<&str> = cr["changeRequest"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["strategies", "archive", "segment"], "{cr}");
}
