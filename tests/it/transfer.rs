//! Import and export: an export re-imports to the same state, in both formats.

use crate::support::{assert_success, bench_features, TestApp, PROJECT};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::Output;

fn export(app: &TestApp, args: &[&str]) -> Value {
    let mut all = vec!["export"];
    all.extend_from_slice(args);
    let out = app.cli(&all);
    assert_success(&out, "export");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Segment ids are per installation; compare documents with segments named instead.
fn by_segment_name(mut doc: Value, list: &str) -> Value {
    let names: HashMap<i64, Value> = doc["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_i64().unwrap(),
                s.get("name").cloned().unwrap_or(s["id"].clone()),
            )
        })
        .collect();
    for s in doc["segments"].as_array_mut().unwrap() {
        s["id"] = names[&s["id"].as_i64().unwrap()].clone();
    }
    for f in doc[list].as_array_mut().unwrap() {
        let envs: Vec<&mut Value> = match f.get_mut("environments").and_then(Value::as_object_mut) {
            Some(map) => map.values_mut().collect(),
            None => vec![f],
        };
        for e in envs {
            for st in e["strategies"].as_array_mut().unwrap() {
                if let Some(segs) = st.get_mut("segments").and_then(Value::as_array_mut) {
                    for id in segs {
                        *id = names
                            .get(&id.as_i64().unwrap())
                            .cloned()
                            .unwrap_or(Value::Null);
                    }
                }
            }
        }
    }
    doc
}

#[tokio::test]
async fn a_switchyard_export_reimports_to_the_same_state() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin
        .api
        .create_flag(
            PROJECT,
            &json!({"key": "checkout", "tags": ["pay"], "owner": crate::support::ADMIN_EMAIL,
            "links": [{"kind": "ticket", "url": "https://tickets.example.com/1"}]}),
        )
        .await;
    admin
        .api
        .toggle(PROJECT, "checkout", "development", true)
        .await;
    let out = app.import_unleash(PROJECT, "staging", &bench_features());
    assert_success(&out, "unleash import");

    let first = export(&app, &["--project", PROJECT]);
    assert_eq!(first["format"], "switchyard/1");
    let file = app.dir().join("export.json");
    std::fs::write(&file, first.to_string()).unwrap();
    let path = file.to_str().unwrap();

    let again = app.cli(&[
        "import",
        "--project",
        PROJECT,
        "--format",
        "switchyard",
        path,
    ]);
    assert_success(&again, "re-import");
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 flags created, 0 updated"));

    assert_success(
        &app.cli(&["project", "create", "--key", "copy"]),
        "project create",
    );
    assert_success(
        &app.cli(&[
            "import",
            "--project",
            "copy",
            "--format",
            "switchyard",
            path,
        ]),
        "import copy",
    );
    let mut copy = export(&app, &["--project", "copy"]);
    let mut original = first.clone();
    original["project"] = Value::Null;
    copy["project"] = Value::Null;
    assert_eq!(
        by_segment_name(copy, "flags"),
        by_segment_name(original, "flags")
    );
    let verify = app.cli(&["audit", "verify"]);
    assert_success(&verify, "audit verify");
}

#[tokio::test]
async fn an_unleash_export_reimports_to_the_same_state() {
    let app = TestApp::spawn().await;
    let out = app.import_unleash(PROJECT, "staging", &bench_features());
    assert_success(&out, "unleash import");
    let first = export(
        &app,
        &[
            "--project",
            PROJECT,
            "--format",
            "unleash",
            "--environment",
            "staging",
        ],
    );
    assert_eq!(first["features"].as_array().unwrap().len(), 1000);
    let file = app.dir().join("unleash.json");
    std::fs::write(&file, first.to_string()).unwrap();
    assert_success(
        &app.cli(&["project", "create", "--key", "p2"]),
        "project create",
    );
    let out = app.import_unleash("p2", "staging", &file);
    assert_success(&out, "re-import");
    let second = export(
        &app,
        &[
            "--project",
            "p2",
            "--format",
            "unleash",
            "--environment",
            "staging",
        ],
    );
    let strip = |mut d: Value| {
        for f in d["features"].as_array_mut().unwrap() {
            f["project"] = Value::Null;
        }
        by_segment_name(d, "features")
    };
    assert_eq!(strip(second), strip(first));
}

#[tokio::test]
async fn a_broken_import_changes_nothing() {
    let app = TestApp::spawn().await;
    let before = app.audit_count().await;
    let file = app.dir().join("bad.json");
    std::fs::write(
        &file,
        r#"{"features":[{"name":"ok","enabled":true},{"name":"bad key","enabled":true}]}"#,
    )
    .unwrap();
    let out = app.import_unleash(PROJECT, "development", &file);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad key"));
    assert_eq!(app.audit_count().await, before);
    let flags = export(&app, &["--project", PROJECT]);
    assert!(flags["flags"].as_array().unwrap().is_empty());
}

fn import(app: &TestApp, file: &std::path::Path, format: &str, extra: &[&str]) -> Output {
    let mut args = vec!["import", "--project", PROJECT, "--format", format];
    args.extend_from_slice(extra);
    args.push(file.to_str().unwrap());
    app.cli(&args)
}

fn refused_naming(out: &Output, env: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the import would change the protected environment {env},"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-protected"), "{stderr}");
}

/// Reliability plan B6: an import is a write path like any other, so it cannot change a
/// protected environment without review, except by an explicit, audited operator override.
#[tokio::test]
async fn an_import_that_would_change_a_protected_environment_is_refused_unless_overridden() {
    let app = TestApp::spawn().await;
    let state = app.dir().join("state.json");
    std::fs::write(
        &state,
        r#"{"version":2,"features":[{"name":"checkout","enabled":true,
            "strategies":[{"name":"default","parameters":{}}]}]}"#,
    )
    .unwrap();
    let before = app.audit_count().await;
    let out = import(&app, &state, "unleash", &["--environment", "production"]);
    refused_naming(&out, "production");
    assert_eq!(app.audit_count().await, before, "nothing written");
    assert!(export(&app, &["--project", PROJECT])["flags"]
        .as_array()
        .unwrap()
        .is_empty());

    // Into an unprotected environment it loads; the flag arrives off in production, which is no
    // change there, so the whole project's export re-imports without an override.
    let out = import(&app, &state, "unleash", &["--environment", "development"]);
    assert_success(&out, "import into development");
    let doc = export(&app, &["--project", PROJECT]);
    let file = app.dir().join("doc.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    assert_success(&import(&app, &file, "switchyard", &[]), "re-import");

    // A document that switches production on, or lifts its protection, is refused.
    let mut on = doc.clone();
    on["flags"][0]["environments"]["production"]["enabled"] = true.into();
    std::fs::write(&file, on.to_string()).unwrap();
    refused_naming(&import(&app, &file, "switchyard", &[]), "production");
    let mut open = doc.clone();
    for e in open["environments"].as_array_mut().unwrap() {
        e["protected"] = false.into();
    }
    std::fs::write(&file, open.to_string()).unwrap();
    refused_naming(&import(&app, &file, "switchyard", &[]), "production");
    let unchanged = export(&app, &["--project", PROJECT]);
    assert_eq!(unchanged, doc, "refused imports change nothing");

    // The operator override goes through, and says so in the audit log.
    let out = import(
        &app,
        &state,
        "unleash",
        &["--environment", "production", "--allow-protected"],
    );
    assert_success(&out, "import --allow-protected");
    let doc = export(&app, &["--project", PROJECT]);
    assert_eq!(
        doc["flags"][0]["environments"]["production"]["enabled"],
        true
    );
    let mut c = app.sql().await;
    let (actor, after): (String, String) = switchyard::db::query_as(
        "select actor_label, after_json from audit_log where action = 'import.protected-override'",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!(actor, "import");
    let after: Value = serde_json::from_str(&after).unwrap();
    assert_eq!(after["environments"], json!(["production"]));
    assert_success(&app.cli(&["audit", "verify"]), "audit verify");
}
