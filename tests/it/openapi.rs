//! The OpenAPI document (`GET /api/openapi.json`) names every admin route the server answers, with
//! each of its methods, and nothing the server does not answer: automation written from the
//! document reaches the whole API. The routes are read from the routers' source (`src/api`), so
//! a new route without its entry fails here.

use crate::support::TestApp;
use regex::Regex;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The text of a call's parentheses, from the `(` at `open`.
fn balanced(src: &str, open: usize) -> &str {
    let mut depth = 0;
    for (i, c) in src[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &src[open + 1..open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses after byte {open}");
}

/// Splits `a, b` at its first top-level comma.
fn first_argument(args: &str) -> (&str, &str) {
    let mut depth = 0;
    for (i, c) in args.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => return (args[..i].trim(), &args[i + 1..]),
            _ => {}
        }
    }
    panic!("a route without a handler: {args}");
}

/// A route's path expression as the router sees it: a literal, a `let` binding, or a
/// `format!` of bindings (`{{x}}` being the literal `{x}`).
fn resolve(expr: &str, bindings: &BTreeMap<String, String>, file: &str) -> String {
    let literal = Regex::new(r#"^"([^"]*)"$"#).unwrap();
    let formatted = Regex::new(r#"^&format!\(\s*"([^"]*)"\s*\)$"#).unwrap();
    if let Some(c) = literal.captures(expr) {
        return c[1].to_string();
    }
    if let Some(v) = bindings.get(expr) {
        return v.clone();
    }
    let Some(c) = formatted.captures(expr) else {
        panic!("{file}: cannot read the route path {expr}");
    };
    let text = c[1].replace("{{", "\u{1}").replace("}}", "\u{2}");
    let named = Regex::new(r"\{(\w+)\}").unwrap();
    let text = named.replace_all(&text, |c: &regex::Captures| {
        bindings
            .get(&c[1])
            .unwrap_or_else(|| panic!("{file}: unknown binding {} in {expr}", &c[1]))
            .clone()
    });
    text.replace('\u{1}', "{").replace('\u{2}', "}")
}

/// Every `(method, path)` the admin routers declare.
fn declared_routes() -> BTreeSet<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let binding = Regex::new(r#"let (\w+) = "([^"]+)";"#).unwrap();
    let method = Regex::new(r"\b(get|post|put|patch|delete)\(").unwrap();
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let src = std::fs::read_to_string(&path).unwrap();
        let bindings: BTreeMap<String, String> = binding
            .captures_iter(&src)
            .map(|c| (c[1].to_string(), c[2].to_string()))
            .collect();
        for (at, _) in src.match_indices(".route(") {
            let args = balanced(&src, at + ".route".len());
            let (path_expr, handlers) = first_argument(args);
            let route = resolve(path_expr, &bindings, &file);
            let methods: Vec<String> = method
                .captures_iter(handlers)
                .map(|c| c[1].to_string())
                .collect();
            assert!(!methods.is_empty(), "{file}: no method for {route}");
            for m in methods {
                out.insert((m, route.clone()));
            }
        }
    }
    out
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(m).is_some() {
                out.insert((m.to_string(), path.clone()));
            }
        }
    }
    out
}

#[test]
fn the_document_lists_every_admin_route_and_only_those() {
    let doc: Value = serde_json::from_str(include_str!("../../src/api/openapi.json")).unwrap();
    let routes: BTreeSet<(String, String)> = declared_routes()
        .into_iter()
        .filter(|(_, p)| p.starts_with("/api/admin/"))
        .collect();
    // The parser reads what it should: routes of this session's rollout work among them.
    for must in [
        ("post", "/api/admin/projects/{project}/signals"),
        ("post", "/api/admin/release-templates"),
        (
            "post",
            "/api/admin/projects/{project}/flags/{key}/environments/{env}/release-plan/reviews/{id}",
        ),
        ("delete", "/api/admin/projects/{project}/members/{email}"),
    ] {
        let must = (must.0.to_string(), must.1.to_string());
        assert!(routes.contains(&must), "the route reader missed {must:?}");
    }
    let listed = documented(&doc);
    let missing: Vec<_> = routes.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&routes).collect();
    assert!(
        missing.is_empty(),
        "routes missing from src/api/openapi.json: {missing:#?}"
    );
    assert!(
        stale.is_empty(),
        "src/api/openapi.json documents routes the server does not answer: {stale:#?}"
    );
}

#[test]
fn every_operation_says_what_it_does_and_how_it_fails_and_its_references_resolve() {
    let text = include_str!("../../src/api/openapi.json");
    let doc: Value = serde_json::from_str(text).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            let Some(op) = item.get(m) else { continue };
            let summary = op["summary"].as_str().unwrap_or("");
            assert!(!summary.is_empty(), "{m} {path}: no summary");
            assert!(
                op["responses"]["4XX"].is_object(),
                "{m} {path}: no error response"
            );
        }
    }
    let reference = Regex::new(r##""\$ref": "#/components/(\w+)/(\w+)""##).unwrap();
    for c in reference.captures_iter(text) {
        assert!(
            doc["components"][&c[1]][&c[2]].is_object(),
            "unresolved reference #/components/{}/{}",
            &c[1],
            &c[2]
        );
    }
}

#[tokio::test]
async fn the_server_serves_the_document() {
    let app = TestApp::spawn().await;
    let r = reqwest::get(app.url("/api/openapi.json")).await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let served: Value = r.json().await.unwrap();
    let file: Value = serde_json::from_str(include_str!("../../src/api/openapi.json")).unwrap();
    assert_eq!(served, file);
}
