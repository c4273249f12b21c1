//! The admin JSON API's answers, good and bad (contract "The admin JSON API"; reliability plan
//! G1, G3, G4, G7).

use crate::support::{status_and_json, TestApp, PROJECT};
use insta::assert_snapshot;
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn creating_a_flag_answers_201_with_its_state_in_every_environment() {
    let app = TestApp::spawn().await;
    let admin = app.admin().api;
    let r = admin
        .create_flag(
            PROJECT,
            &json!({"key": "checkout-v2", "name": "Checkout v2", "type": "release",
                    "valueType": "boolean", "owner": "admin@example.com", "tags": ["checkout"]}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let body: Value = r.json().await.unwrap();
    let flag = &body["flag"];
    assert_eq!(flag["key"], "checkout-v2");
    assert_eq!(flag["name"], "Checkout v2");
    assert_eq!(flag["type"], "release");
    assert_eq!(flag["owner"], "admin@example.com");
    assert_eq!(flag["tags"], json!(["checkout"]));
    let envs: Vec<(String, bool, bool)> = flag["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["environment"].as_str().unwrap().to_string(),
                e["enabled"].as_bool().unwrap(),
                e["protected"].as_bool().unwrap(),
            )
        })
        .collect();
    let mut sorted = envs.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![
            ("development".into(), false, false),
            ("production".into(), false, true),
            ("staging".into(), false, false),
        ]
    );

    // Reading it back gives the same flag; switching it on shows in that environment only.
    let read = admin.flag_json(PROJECT, "checkout-v2").await;
    assert_eq!(read["flag"]["key"], "checkout-v2");
    let r = admin
        .toggle(PROJECT, "checkout-v2", "development", true)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["changed"], true);
    let on: Vec<&str> = body["flag"]["environments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["enabled"] == true)
        .map(|e| e["environment"].as_str().unwrap())
        .collect();
    assert_eq!(on, vec!["development"]);
    // Switching on again is a no-op, not a second change.
    let again: Value = admin
        .toggle(PROJECT, "checkout-v2", "development", true)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["changed"], false);
}

#[tokio::test]
async fn bad_flag_input_answers_with_the_error_envelope_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().api;
    admin.new_flag(PROJECT, "taken").await;
    let before = app.fingerprint().await;

    let r = admin.create_flag(PROJECT, &json!({"key": "taken"})).await;
    assert_snapshot!(status_and_json(r).await, @r#"422 Unprocessable Entity {"error":"invalid-input","fields":[{"field":"key","message":"a flag with the key \"taken\" already exists in this project"}],"message":"key: a flag with the key \"taken\" already exists in this project"}"#);

    let r = admin.create_flag(PROJECT, &json!({"key": "a b"})).await;
    assert_snapshot!(status_and_json(r).await, @r#"422 Unprocessable Entity {"error":"invalid-input","fields":[{"field":"key","message":"a key may not contain spaces or control characters"}],"message":"key: a key may not contain spaces or control characters"}"#);
    let r = admin.create_flag(PROJECT, &json!({"key": "a/b"})).await;
    assert_snapshot!(status_and_json(r).await, @r#"422 Unprocessable Entity {"error":"invalid-input","fields":[{"field":"key","message":"a key may not contain '/'"}],"message":"key: a key may not contain '/'"}"#);
    let long = "k".repeat(101);
    let r = admin.create_flag(PROJECT, &json!({"key": long})).await;
    assert_snapshot!(status_and_json(r).await, @r#"422 Unprocessable Entity {"error":"invalid-input","fields":[{"field":"key","message":"a key has 1 to 100 characters"}],"message":"key: a key has 1 to 100 characters"}"#);
    for key in ["", "tab\there", "nul\u{0}x", "line\nbreak"] {
        let r = admin.create_flag(PROJECT, &json!({"key": key})).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "key {key:?}");
    }
    let r = admin
        .create_flag(PROJECT, &json!({"key": "typed", "type": "nonsense"}))
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Mass assignment: unknown fields are refused, not ignored.
    let r = admin
        .create_flag(
            PROJECT,
            &json!({"key": "sneaky", "id": 1, "project": "other", "createdBy": "someone"}),
        )
        .await;
    let text = status_and_json(r).await;
    assert!(
        text.starts_with(r#"400 Bad Request {"error":"invalid-body""#),
        "{text}"
    );
    assert!(text.contains("unknown field"), "{text}");
    let r = admin
        .patch(PROJECT, "taken", &json!({"name": "x", "version": 99}))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Malformed JSON, wrong content type, missing content type.
    let raw = |body: &'static str, ct: Option<&'static str>| {
        let mut r = admin
            .request(
                Method::POST,
                &format!("/api/admin/projects/{PROJECT}/flags"),
            )
            .body(body);
        if let Some(ct) = ct {
            r = r.header(header::CONTENT_TYPE, ct);
        }
        r.send()
    };
    let r = raw(r#"{"key": "half"#, Some("application/json"))
        .await
        .unwrap();
    let text = status_and_json(r).await;
    assert!(
        text.starts_with(r#"400 Bad Request {"error":"malformed-json""#),
        "{text}"
    );
    let r = raw(r#"{"key": "x"} trailing"#, Some("application/json"))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = raw(r#"{"key": 5}"#, Some("application/json"))
        .await
        .unwrap();
    let text = status_and_json(r).await;
    assert!(
        text.starts_with(r#"400 Bad Request {"error":"invalid-body""#),
        "{text}"
    );
    let r = raw(r#"{"key": "no-ct"}"#, None).await.unwrap();
    assert_snapshot!(status_and_json(r).await, @r#"400 Bad Request {"error":"unsupported-media-type","message":"send the body as JSON with Content-Type: application/json"}"#);
    let r = raw(r#"{"key": "as-text"}"#, Some("text/plain"))
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 400 | 415));
    let _ = status_and_json(r).await;

    assert_eq!(
        app.fingerprint().await,
        before,
        "a refused request changed something"
    );
}

#[tokio::test]
async fn a_body_over_one_mebibyte_answers_413_in_the_error_envelope() {
    let app = TestApp::spawn().await;
    let admin = app.admin().api;
    let before = app.fingerprint().await;
    let big = json!({"key": "big", "description": "x".repeat(1024 * 1024 + 10)});
    let r = admin.create_flag(PROJECT, &big).await;
    assert_snapshot!(status_and_json(r).await, @r#"413 Payload Too Large {"error":"body-too-large","message":"the request body is larger than 1 MiB"}"#);
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn unknown_flags_and_routes_answer_404_in_json() {
    let app = TestApp::spawn().await;
    let admin = app.admin().api;
    let r = admin.flag(PROJECT, "nope").await;
    assert_snapshot!(status_and_json(r).await, @r#"404 Not Found {"error":"not-found","message":"there is no flag \"nope\" in the project web"}"#);
    let r = admin.toggle(PROJECT, "nope", "development", true).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = admin.archive(PROJECT, "nope").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    admin.new_flag(PROJECT, "real").await;
    let r = admin.toggle(PROJECT, "real", "no-such-env", true).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let _ = status_and_json(r).await;
}

#[tokio::test]
async fn unicode_keys_and_html_in_free_text_are_stored_byte_identical() {
    let app = TestApp::spawn().await;
    let admin = app.admin().api;
    let key = "Feature.UTF-8.Hellø_Wørld";
    let description =
        r#"<script>alert("x")</script> "><img src=x onerror=alert(1)> ' OR 1=1 -- %_ & é"#;
    let r = admin
        .create_flag(
            PROJECT,
            &json!({"key": key, "description": description, "name": "<b>bold</b>"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let read = admin.flag_json(PROJECT, key).await;
    assert_eq!(read["flag"]["key"], key);
    assert_eq!(read["flag"]["description"], description);
    assert_eq!(read["flag"]["name"], "<b>bold</b>");

    let mut c = app.sql().await;
    let stored: String =
        switchyard::db::query_scalar("select description from flags where key = ?")
            .bind(key)
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert_eq!(stored.as_bytes(), description.as_bytes());

    // Text search treats SQL wildcards as data.
    let list: Value = admin.flags(PROJECT, "q=%25_").await.json().await.unwrap();
    assert_eq!(list["total"], 1, "{list}");
    admin.new_flag(PROJECT, "plain").await;
    let list: Value = admin.flags(PROJECT, "q=%25").await.json().await.unwrap();
    let keys: Vec<&str> = list["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, vec![key]);
}

fn keys(list: &Value) -> Vec<String> {
    let mut k: Vec<String> = list["flags"]
        .as_array()
        .unwrap_or_else(|| panic!("no flags in {list}"))
        .iter()
        .map(|f| f["key"].as_str().unwrap().to_string())
        .collect();
    k.sort();
    k
}

#[tokio::test]
async fn catalog_filters_return_exactly_the_matching_flags() {
    let app = TestApp::spawn().await;
    let editor = app.user("editor");
    let admin = app.admin().api;
    let create = |body: Value| {
        let admin = admin.clone();
        async move {
            let r = admin.create_flag(PROJECT, &body).await;
            assert_eq!(r.status(), StatusCode::CREATED, "{body}");
        }
    };
    create(json!({"key": "pay-retry", "name": "Payment retry", "type": "release", "tags": ["payments"], "owner": editor.email})).await;
    create(json!({"key": "pay-kill", "type": "kill-switch", "tags": ["payments", "ops"]})).await;
    create(json!({"key": "search-ab", "description": "ranking experiment", "type": "experiment", "owner": editor.email})).await;
    create(json!({"key": "ops-banner", "type": "operational", "tags": ["ops"]})).await;
    admin
        .force_toggle(PROJECT, "pay-kill", "production", true)
        .await;
    assert_eq!(
        admin
            .toggle(PROJECT, "search-ab", "development", true)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        admin.archive(PROJECT, "ops-banner").await.status(),
        StatusCode::OK
    );

    let q = |query: &'static str| {
        let admin = admin.clone();
        async move {
            let r = admin.flags(PROJECT, query).await;
            assert_eq!(r.status(), StatusCode::OK, "{query}");
            r.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(keys(&q("").await), ["pay-kill", "pay-retry", "search-ab"]);
    assert_eq!(q("").await["total"], 3);
    assert_eq!(keys(&q("q=pay").await), ["pay-kill", "pay-retry"]);
    assert_eq!(keys(&q("q=ranking").await), ["search-ab"]);
    assert_eq!(keys(&q("q=Payment%20retry").await), ["pay-retry"]);
    assert_eq!(keys(&q("type=kill-switch").await), ["pay-kill"]);
    assert_eq!(keys(&q("type=experiment").await), ["search-ab"]);
    assert_eq!(keys(&q("tag=payments").await), ["pay-kill", "pay-retry"]);
    assert_eq!(keys(&q("tag=ops").await), ["pay-kill"]);
    assert_eq!(keys(&q("env=production&state=on").await), ["pay-kill"]);
    assert_eq!(keys(&q("env=development&state=on").await), ["search-ab"]);
    assert_eq!(keys(&q("env=staging&state=on").await), Vec::<String>::new());
    assert_eq!(keys(&q("state=on").await), ["pay-kill", "search-ab"]);
    let owner_query = format!("owner={}", editor.email);
    let owned: Value = admin
        .flags(PROJECT, &owner_query)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(keys(&owned), ["pay-retry", "search-ab"]);
    assert_eq!(keys(&q("tag=payments&type=release").await), ["pay-retry"]);
    assert_eq!(keys(&q("archived=archived").await), ["ops-banner"]);
    assert_eq!(keys(&q("archived=all").await).len(), 4);
    assert_eq!(q("q=nothing-matches").await["total"], 0);
}

#[tokio::test]
async fn the_catalog_pages_by_fifty_and_reports_the_total() {
    let app = TestApp::spawn().await;
    let admin = app.admin().api;
    for i in 0..55 {
        admin.new_flag(PROJECT, &format!("f{i:02}")).await;
    }
    let page1: Value = admin.flags(PROJECT, "").await.json().await.unwrap();
    assert_eq!(page1["total"], 55);
    assert_eq!(page1["pageSize"], 50);
    assert_eq!(page1["flags"].as_array().unwrap().len(), 50);
    let page2: Value = admin.flags(PROJECT, "page=2").await.json().await.unwrap();
    assert_eq!(page2["total"], 55);
    assert_eq!(page2["page"], 2);
    assert_eq!(keys(&page2), ["f50", "f51", "f52", "f53", "f54"]);
}

/// Sends a raw HTTP/1.1 request and returns the status line, headers and body as text.
async fn raw_http(addr: &str, head: &str, body_chunks: &[&[u8]]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    for chunk in body_chunks {
        // The server may answer and close before the whole body is sent.
        if s.write_all(chunk).await.is_err() {
            break;
        }
    }
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_chunked_body_over_one_mebibyte_also_answers_413_in_the_error_envelope() {
    let app = TestApp::spawn().await;
    let token = app.admin_token(PROJECT, crate::support::ADMIN_EMAIL);
    let addr = app.base.trim_start_matches("http://").to_string();
    let before = app.fingerprint().await;
    let head = format!(
        "POST /api/admin/projects/{PROJECT}/flags HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let mut json = br#"{"key":"big","description":""#.to_vec();
    json.extend(std::iter::repeat_n(b'x', 1024 * 1024 + 10));
    json.extend(br#""}"#);
    let mut chunks: Vec<Vec<u8>> = json
        .chunks(64 * 1024)
        .map(|c| {
            let mut v = format!("{:x}\r\n", c.len()).into_bytes();
            v.extend_from_slice(c);
            v.extend_from_slice(b"\r\n");
            v
        })
        .collect();
    chunks.push(b"0\r\n\r\n".to_vec());
    let refs: Vec<&[u8]> = chunks.iter().map(|c| c.as_slice()).collect();
    let answer = raw_http(&addr, &head, &refs).await;
    let status_line = answer.lines().next().unwrap_or_default().to_string();
    assert_eq!(
        status_line, "HTTP/1.1 413 Payload Too Large",
        "{answer:.500}"
    );
    assert!(
        answer.contains(r#""error":"body-too-large""#),
        "{answer:.500}"
    );
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn invalid_utf8_in_a_json_body_answers_400_not_500() {
    let app = TestApp::spawn().await;
    let admin = app.admin().api;
    let before = app.fingerprint().await;
    let r = admin
        .request(
            Method::POST,
            &format!("/api/admin/projects/{PROJECT}/flags"),
        )
        .header(header::CONTENT_TYPE, "application/json")
        .body(b"{\"key\": \"bad-\xff\xfe\"}".to_vec())
        .send()
        .await
        .unwrap();
    let text = status_and_json(r).await;
    assert!(text.starts_with("400 Bad Request"), "{text}");
    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn odd_paths_and_methods_never_bypass_authentication() {
    let app = TestApp::spawn().await;
    let anon = app.api(None);
    for path in [
        "//api/admin/projects",
        "/api//admin/projects",
        "/api/admin/./projects",
        "/api/admin/projects/",
        "/api%2fadmin/projects",
        "/API/ADMIN/PROJECTS",
        "/api/admin/projects/web/flags/../flags",
    ] {
        for method in [Method::GET, Method::POST, Method::HEAD, Method::OPTIONS] {
            let r = anon
                .request(method.clone(), path)
                .json(&json!({"key": "x"}))
                .send()
                .await
                .unwrap();
            assert!(
                !r.status().is_success(),
                "{method} {path} answered {} without credentials",
                r.status()
            );
        }
    }
    let r = anon
        .request(Method::TRACE, "/api/admin/projects")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let mut c = app.sql().await;
    let projects: i64 = switchyard::db::query_scalar("select count(*) from projects")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(projects, 1);
}
