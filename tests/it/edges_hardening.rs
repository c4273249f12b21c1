//! Issue 11, items 9, 10, 14, 16 and 18: webhooks refuse internal targets, public metrics are
//! bounded, keys are unambiguous, the audit head can be pinned, and malformed import files are
//! refused (reliability plan L8, L9, L11, L14).

use crate::support::{TestApp, PROJECT};

// ---------- 18. Import files of the wrong shape ----------

fn import_unleash(app: &TestApp, name: &str, text: &str) -> std::process::Output {
    let file = app.dir().join(name);
    std::fs::write(&file, text).unwrap();
    app.cli(&[
        "import",
        "--project",
        PROJECT,
        "--environment",
        "development",
        "--format",
        "unleash",
        file.to_str().unwrap(),
    ])
}

#[tokio::test]
async fn unleash_import_without_a_features_array_is_refused_with_exit_2() {
    let app = TestApp::spawn().await;
    let before = app.audit_count().await;
    for (text, says) in [
        (r#"{"version": 1}"#, "no \"features\" array"),
        (r#"{}"#, "no \"features\" array"),
        (
            r#"{"version": 1, "features": {}}"#,
            "\"features\" is not an array",
        ),
        (
            r#"{"features": "checkout"}"#,
            "\"features\" is not an array",
        ),
        (r#"{"features": null}"#, "\"features\" is not an array"),
        (r#"[]"#, "not a JSON object"),
        (r#""features""#, "not a JSON object"),
        (r#"{"features": [1]}"#, "feature 1 is not an object"),
        (
            r#"{"features": [{"enabled": true}]}"#,
            "feature 1 has no name",
        ),
        (
            r#"{"features": [], "segments": {}}"#,
            "\"segments\" is not an array",
        ),
        (r#"{"events": {}}"#, "\"events\" is not an array"),
    ] {
        let out = import_unleash(&app, "bad.json", text);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.contains(says), "{text}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{text}: {stderr}");
    }
    assert_eq!(app.audit_count().await, before, "a refused import wrote");

    // An explicit empty list is a valid (empty) state; a real one still imports.
    let out = import_unleash(&app, "empty.json", r#"{"version": 1, "features": []}"#);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = import_unleash(
        &app,
        "one.json",
        r#"{"version": 1, "features": [{"name": "imported", "enabled": true}]}"#,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 flags created"));
}
