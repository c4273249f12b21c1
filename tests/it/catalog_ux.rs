//! The catalog as issue 9 asks for it, over HTTP: each environment's exposure and the last
//! evaluation, sorting that does what its arrow says, clean addresses, bulk actions from the
//! catalog and the admin API, the search behind the command palette, and error pages that keep
//! the signed-in frame.

use crate::support::clock::TestClock;
use crate::support::{Api, TestApp, PROJECT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn flags_path(rest: &str) -> String {
    format!("/projects/{PROJECT}/flags{rest}")
}

async fn bulk(api: &Api, body: &Value) -> (StatusCode, Value) {
    let r = api
        .send(
            Method::POST,
            &format!("/api/admin/projects/{PROJECT}/bulk-flags"),
            Some(body),
        )
        .await;
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// `key → outcome` of a bulk answer.
fn outcomes(answer: &Value) -> Vec<(String, String)> {
    answer["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {answer}"))
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

async fn tags_of(api: &Api, key: &str) -> Value {
    api.flag_json(PROJECT, key).await["flag"]["tags"].clone()
}

#[tokio::test]
async fn bulk_tagging_and_owning_are_audited_per_flag_and_refused_to_a_viewer() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    for key in ["alpha", "beta", "gamma"] {
        admin.api.new_flag(PROJECT, key).await;
    }
    let before = app.audit_count().await;
    let (status, answer) = bulk(
        &admin.api,
        &json!({"flags": ["alpha", "beta"], "action": "tag-add", "value": "q4"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        outcomes(&answer),
        pairs(&[("alpha", "applied"), ("beta", "applied")])
    );
    assert_eq!(answer["summary"], "2 changed");
    assert_eq!(tags_of(&admin.api, "alpha").await, json!(["q4"]));
    assert_eq!(tags_of(&admin.api, "gamma").await, json!([]));
    assert_eq!(app.audit_count().await, before + 2, "one entry per flag");

    // Again, with one flag already tagged and one unknown: each said, the rest done.
    let (status, answer) = bulk(
        &admin.api,
        &json!({"flags": ["alpha", "gamma", "nope"], "action": "tag-add", "value": "q4"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        outcomes(&answer),
        pairs(&[
            ("alpha", "unchanged"),
            ("gamma", "applied"),
            ("nope", "refused")
        ])
    );
    assert_eq!(answer["results"][2]["error"], "not-found");

    let (_, answer) = bulk(
        &admin.api,
        &json!({"flags": ["alpha", "beta"], "action": "tag-remove", "value": "q4"}),
    )
    .await;
    assert_eq!(answer["summary"], "2 changed");
    assert_eq!(tags_of(&admin.api, "beta").await, json!([]));

    let (status, answer) = bulk(
        &admin.api,
        &json!({"flags": ["alpha", "beta"], "action": "owner", "value": app.admin().email}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let alpha = admin.api.flag_json(PROJECT, "alpha").await;
    assert_eq!(alpha["flag"]["owner"], json!(app.admin().email));
    let version = alpha["flag"]["version"].clone();
    let (_, answer) = bulk(
        &admin.api,
        &json!({"flags": ["alpha"], "action": "owner", "value": app.admin().email}),
    )
    .await;
    assert_eq!(outcomes(&answer), pairs(&[("alpha", "unchanged")]));
    let alpha = admin.api.flag_json(PROJECT, "alpha").await;
    assert_eq!(alpha["flag"]["version"], version, "nothing was saved");

    // Bad input changes nothing: an owner nobody has.
    let (status, answer) = bulk(
        &admin.api,
        &json!({"flags": ["gamma"], "action": "owner", "value": "ghost@example.com"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");

    // A viewer may not: the whole action is refused, nothing changes.
    let viewer = app.user("viewer");
    let count = app.audit_count().await;
    let (status, answer) = bulk(
        &viewer.api,
        &json!({"flags": ["alpha"], "action": "tag-add", "value": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let (status, _) = bulk(
        &viewer.api,
        &json!({"flags": ["alpha"], "action": "archive"}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.audit_count().await, count);
}

#[tokio::test]
async fn bulk_archive_stages_protected_flags_and_names_the_dependents_it_refuses_for() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    for key in ["idle", "live", "parent", "child", "needed", "needy"] {
        admin.api.new_flag(PROJECT, key).await;
    }
    admin
        .api
        .force_toggle(PROJECT, "live", "production", true)
        .await;
    let deps = |key: &str| format!("/api/admin/projects/{PROJECT}/flags/{key}/dependencies");
    for (child, parent) in [("child", "parent"), ("needy", "needed")] {
        let r = admin
            .api
            .send(
                Method::PUT,
                &deps(child),
                Some(&json!([{"feature": parent}])),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    // The parent comes before its child: it is archived once the child is.
    let (status, answer) = bulk(
        &admin.api,
        &json!({"flags": ["idle", "live", "parent", "child", "needed"],
                "action": "archive", "value": "cleanup"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        outcomes(&answer),
        pairs(&[
            ("idle", "applied"),
            ("live", "staged"),
            ("parent", "applied"),
            ("child", "applied"),
            ("needed", "refused"),
        ])
    );
    let staged = &answer["results"][1];
    let cr = staged["changeRequest"].as_i64().expect("a change request");
    let request: Value = admin.api.change_request(cr).await.json().await.unwrap();
    assert_eq!(
        request["changeRequest"]["environment"], "production",
        "{request}"
    );
    let refused = &answer["results"][4];
    assert_eq!(refused["error"], "flag-has-dependents");
    assert!(
        refused["message"].as_str().unwrap().contains("needy"),
        "the refusal names the dependent flag: {refused}"
    );
    let live = admin.api.flag_json(PROJECT, "live").await;
    assert!(
        live["flag"]["archivedAt"].is_null(),
        "live stays until applied"
    );
    let idle = admin.api.flag_json(PROJECT, "idle").await;
    assert!(idle["flag"]["archivedAt"].is_string());
    let needed = admin.api.flag_json(PROJECT, "needed").await;
    assert!(needed["flag"]["archivedAt"].is_null());
    assert_eq!(
        answer["summary"],
        "3 changed, 1 waiting in a change request, 1 refused"
    );
}

#[tokio::test]
async fn bulk_actions_from_the_catalog_page_say_what_was_done_and_what_was_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let editor = app.user("editor");
    for key in ["red", "green"] {
        admin.api.new_flag(PROJECT, key).await;
    }
    let b = app.signed_in(&editor.email).await;
    let page = b.get(&flags_path("")).await.text().await.unwrap();
    assert!(page.contains("id=\"bulk\""), "editors get the bulk form");
    assert!(page.contains("form=\"bulk\" name=\"flags\" value=\"red\""));
    let token = b.csrf().await;
    let r = b
        .post_form(
            &format!("/projects/{PROJECT}/bulk-flags"),
            &[
                ("csrf_token", &token),
                ("back", &flags_path("?sort=updated")),
                ("action", "tag-add"),
                ("value", "ui"),
                ("flags", "red"),
                ("flags", "green"),
                ("flags", "blue"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(text.contains("2 changed, 1 refused"), "{text}");
    assert!(
        text.contains("There is no flag"),
        "the refusal says why: {text}"
    );
    assert!(text.contains(&format!("href=\"{}\"", flags_path("?sort=updated"))));
    assert_eq!(tags_of(&admin.api, "green").await, json!(["ui"]));

    // Viewers get no form, and a refusal in the signed-in frame when they post anyway.
    let viewer = app.user("viewer");
    let v = app.signed_in(&viewer.email).await;
    let page = v.get(&flags_path("")).await.text().await.unwrap();
    assert!(!page.contains("id=\"bulk\""), "viewers get no bulk form");
    let token = v.csrf().await;
    let r = v
        .post_form(
            &format!("/projects/{PROJECT}/bulk-flags"),
            &[
                ("csrf_token", &token),
                ("action", "archive"),
                ("flags", "red"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let text = r.text().await.unwrap();
    assert!(text.contains("Log out"), "the 403 page keeps the frame");
}

#[tokio::test]
async fn updated_sorts_newest_first_with_the_arrow_that_says_so() {
    let clock = TestClock::at("2026-03-01T10:00:00Z");
    let app = TestApp::spawn_with_env(&[clock.env()]).await;
    let admin = app.admin();
    for (day, key) in [(0, "oldest"), (1, "middle"), (2, "newest")] {
        clock.set_day(day);
        admin.api.new_flag(PROJECT, key).await;
    }
    let b = app.signed_in(&app.admin().email).await;
    let order = |html: &str| {
        let mut found: Vec<(usize, &str)> = ["oldest", "middle", "newest"]
            .into_iter()
            .map(|k| (html.find(&format!(">{k}</a>")).unwrap(), k))
            .collect();
        found.sort();
        found.into_iter().map(|(_, k)| k).collect::<Vec<_>>()
    };
    let html = b
        .get(&flags_path("?sort=updated"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(order(&html), ["newest", "middle", "oldest"]);
    assert!(
        html.contains(
            "aria-sort=\"descending\"><a href=\"/projects/web/flags?sort=updated&#38;dir=asc\""
        ),
        "{html}"
    );
    let html = b
        .get(&flags_path("?sort=updated&dir=asc"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(order(&html), ["oldest", "middle", "newest"]);
    assert!(html.contains("aria-sort=\"ascending\"><a href=\"/projects/web/flags?sort=updated\""));
    // By key (the default), A to Z, and the Updated header offers newest first.
    let html = b.get(&flags_path("")).await.text().await.unwrap();
    assert_eq!(order(&html), ["middle", "newest", "oldest"]);
    assert!(html.contains("aria-sort=\"ascending\"><a href=\"/projects/web/flags?dir=desc\""));
    assert!(html.contains(
        "<a href=\"/projects/web/flags?sort=updated\" title=\"Sort newest first\">Updated</a>"
    ));
}

#[tokio::test]
async fn catalog_addresses_carry_no_empty_parameters() {
    let app = TestApp::spawn().await;
    app.admin().api.new_flag(PROJECT, "solo").await;
    let b = app.signed_in(&app.admin().email).await;
    let r = b
        .get(&flags_path(
            "?q=&owner=&team=&type=&state=&archived=active&sort=updated&dir=desc&page=1",
        ))
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"],
        flags_path("?sort=updated").as_str()
    );
    let r = b.get("/flags?project=&q=solo&tag=").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/flags?q=solo");
    // A clean address is answered; htmx is told the clean address to show.
    assert_eq!(b.get("/flags?q=solo").await.status(), StatusCode::OK);
    let r = b
        .client
        .get(format!("{}{}", b.base, flags_path("?q=sol&owner=&stale=")))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["hx-push-url"], flags_path("?q=sol").as_str());
    let text = r.text().await.unwrap();
    assert!(text.contains(">solo</a>") && !text.contains("<html"));
}

#[tokio::test]
async fn each_environment_cell_says_how_far_the_flag_reaches_and_when_it_was_last_seen() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "rollout").await;
    let path =
        format!("/api/admin/projects/{PROJECT}/flags/rollout/environments/development/strategies");
    let strategies = json!([{"name": "flexibleRollout", "parameters": {"rollout": "10"}}]);
    let r = admin.api.send(Method::PUT, &path, Some(&strategies)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = admin
        .api
        .toggle(PROJECT, "rollout", "development", true)
        .await;
    assert!(r.status().is_success());
    admin.api.new_flag(PROJECT, "everywhere").await;
    admin
        .api
        .toggle(PROJECT, "everywhere", "staging", true)
        .await;
    let b = app.signed_in(&app.admin().email).await;
    let html = b.get(&flags_path("")).await.text().await.unwrap();
    assert!(
        html.contains("<span class=\"exposure is-partial\" title=\"Gradual rollout 10 %"),
        "{html}"
    );
    assert!(html.contains(">10 %</span>"));
    assert!(html.contains("<span class=\"exposure\">everyone</span>"));
    assert!(html.contains(">never</td>"), "no SDK reported yet");

    // An evaluation recorded an hour ago shows on both catalogs.
    let hour = (chrono::Utc::now() - chrono::Duration::hours(3))
        .format("%Y-%m-%dT%H:00:00.000Z")
        .to_string();
    let mut db = app.sql().await;
    switchyard::db::query(
        "insert into usage_hourly (environment_id, flag_key, hour, yes, no) \
         select e.id, 'rollout', ?, 5, 1 from environments e join projects p on p.id = e.project_id \
         where p.key = ? and e.key = 'development'",
    )
    .bind(&hour)
    .bind(PROJECT)
    .execute(&mut db)
    .await
    .unwrap();
    for page in [flags_path(""), "/flags".to_string()] {
        let html = b.get(&page).await.text().await.unwrap();
        assert!(html.contains(">3 h ago</td>"), "{page}: {html}");
    }
}

#[tokio::test]
async fn the_search_finds_what_the_caller_may_see_by_any_word() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let r = admin
        .api
        .create_flag(
            PROJECT,
            &json!({"key": "pay-later", "name": "Pay later",
                    "description": "Klarna installments at checkout", "tags": ["payments"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let out = app.cli(&[
        "project",
        "create",
        "--key",
        "secret",
        "--name",
        "Secret installments",
    ]);
    crate::support::assert_success(&out, "project create");
    let suggest = |b: &crate::support::Browser, q: &str| {
        let url = format!("/search/suggest?q={}", crate::support::encode_segment(q));
        let b = b.client.get(format!("{}{url}", b.base));
        async move { b.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let owner = app.signed_in(&app.admin().email).await;
    for q in ["installm", "klarna", "PAYMENTS", "pay-lat", "later pay"] {
        let found = suggest(&owner, q).await;
        assert!(
            found
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["href"] == "/projects/web/flags/pay-later"),
            "{q}: {found}"
        );
    }
    let found = suggest(&owner, "installments").await;
    assert!(found.to_string().contains("/projects/secret"), "{found}");

    // A member of `web` alone does not see the other project.
    let viewer = app.user("viewer");
    let v = app.signed_in(&viewer.email).await;
    let found = suggest(&v, "installments").await;
    let hrefs: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["href"].as_str().unwrap())
        .collect();
    assert_eq!(hrefs, ["/projects/web/flags/pay-later"]);

    // Renamed and retagged: the index follows.
    let r = admin
        .api
        .patch(
            PROJECT,
            "pay-later",
            &json!({"description": "Deferred", "tags": ["bnpl"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(suggest(&v, "klarna").await, json!([]));
    assert_eq!(suggest(&v, "bnpl").await.as_array().unwrap().len(), 1);
    let page = v.get("/search?q=bnpl").await.text().await.unwrap();
    assert!(page.contains("href=\"/projects/web/flags/pay-later\""));
}

#[tokio::test]
async fn error_pages_keep_the_navigation_of_a_signed_in_person() {
    let app = TestApp::spawn().await;
    let viewer = app.user("viewer");
    let b = app.signed_in(&viewer.email).await;
    for (path, status) in [
        ("/no/such/page", StatusCode::NOT_FOUND),
        ("/projects/nope", StatusCode::NOT_FOUND),
        ("/projects/web/flags/nope", StatusCode::NOT_FOUND),
        ("/admin/users", StatusCode::FORBIDDEN),
    ] {
        let r = b.get(path).await;
        assert_eq!(r.status(), status, "{path}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("<nav aria-label=\"Main\">") && html.contains("Log out"),
            "{path} keeps the navigation: {html}"
        );
        assert!(html.contains("id=\"palette\""), "{path} keeps the search");
    }
    // Not signed in: the plain page; the API keeps its JSON.
    let anon = app.browser();
    let html = anon.get("/no/such/page").await.text().await.unwrap();
    assert!(!html.contains("Log out"));
    let r = anon.get("/api/admin/no/such").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "not-found");
}
