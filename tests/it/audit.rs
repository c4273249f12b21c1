//! The audit log: one entry per change, append-only, tamper-evident (reliability plan J1–J3).

use crate::support::{cli_on, connect, on_postgres, TestApp, PROJECT};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn every_change_leaves_exactly_one_audit_entry_and_refusals_none() {
    let app = TestApp::spawn().await;
    let editor = app.user("editor");
    let viewer = app.user("viewer");
    let api = &editor.api;
    let key = "audited";
    let start = app.audit_count().await;
    let mut expected = start;

    // (what, response status, entries it must add)
    macro_rules! step {
        ($what:expr, $req:expr, $status:expr, $adds:expr) => {{
            let r = $req;
            let status = r.status();
            let rid = r
                .headers()
                .get("x-request-id")
                .map(|v| v.to_str().unwrap().to_string());
            let body = r.text().await.unwrap();
            assert_eq!(status.as_u16(), $status, "{}: {body}", $what);
            expected += $adds;
            assert_eq!(app.audit_count().await, expected, "{}", $what);
            rid
        }};
    }

    let created_rid = step!(
        "create",
        api.create_flag(PROJECT, &json!({"key": key, "description": "first"}))
            .await,
        201,
        1
    );
    step!(
        "duplicate",
        api.create_flag(PROJECT, &json!({"key": key})).await,
        422,
        0
    );
    step!(
        "bad key",
        api.create_flag(PROJECT, &json!({"key": "a b"})).await,
        422,
        0
    );
    step!(
        "unknown field",
        api.create_flag(PROJECT, &json!({"key": "x", "admin": true}))
            .await,
        400,
        0
    );
    step!(
        "patch",
        api.patch(PROJECT, key, &json!({"description": "second"}))
            .await,
        200,
        1
    );
    step!(
        "patch to the same value",
        api.patch(PROJECT, key, &json!({"description": "second"}))
            .await,
        200,
        0
    );
    step!(
        "on",
        api.toggle(PROJECT, key, "development", true).await,
        200,
        1
    );
    step!(
        "on again",
        api.toggle(PROJECT, key, "development", true).await,
        200,
        0
    );
    step!(
        "viewer toggles",
        viewer.api.toggle(PROJECT, key, "development", false).await,
        403,
        0
    );
    step!(
        "editor proposes a production change",
        api.toggle(PROJECT, key, "production", true).await,
        202,
        1
    );
    step!(
        "off",
        api.toggle(PROJECT, key, "development", false).await,
        200,
        1
    );
    step!("archive", api.archive(PROJECT, key).await, 200, 1);
    step!("archive again", api.archive(PROJECT, key).await, 409, 0);
    step!(
        "toggle archived",
        api.toggle(PROJECT, key, "development", true).await,
        409,
        0
    );
    step!("revive", api.revive(PROJECT, key).await, 200, 1);

    let r = api.audit(&format!("flag={key}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let log: Value = r.json().await.unwrap();
    let entries = log["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "flag.revived",
            "flag.archived",
            "flag.disabled",
            "change-request.change-added",
            "flag.enabled",
            "flag.updated",
            "flag.created"
        ],
        "newest first"
    );
    for e in entries {
        assert_eq!(e["actorLabel"], editor.email.as_str(), "{e}");
        assert_eq!(e["actorKind"], "token", "{e}");
        assert_eq!(e["projectKey"], PROJECT, "{e}");
        assert_eq!(e["flagKey"], key, "{e}");
        assert!(e["requestId"].is_string(), "{e}");
    }
    let by = |action: &str| entries.iter().find(|e| e["action"] == action).unwrap();
    let created = by("flag.created");
    assert_eq!(created["before"], Value::Null);
    assert_eq!(created["after"]["description"], "first");
    assert_eq!(created["requestId"].as_str(), created_rid.as_deref());
    let updated = by("flag.updated");
    assert_eq!(updated["before"]["description"], "first");
    assert_eq!(updated["after"]["description"], "second");
    let enabled = by("flag.enabled");
    assert_eq!(enabled["environmentKey"], "development");
    assert_eq!(enabled["before"], json!({"enabled": false}));
    assert_eq!(enabled["after"], json!({"enabled": true}));
    assert_eq!(by("flag.disabled")["after"], json!({"enabled": false}));
    assert_eq!(by("flag.archived")["after"], json!({"archived": true}));
    assert_eq!(by("flag.revived")["after"], json!({"archived": false}));

    // Filters are exact: by action and by actor.
    let only: Value = api
        .audit(&format!("flag={key}&action=flag.enabled"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(only["entries"].as_array().unwrap().len(), 1);
    let nobody: Value = api
        .audit("actor=nobody@example.com")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(nobody["entries"].as_array().unwrap().len(), 0);

    let out = app.cli(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "audit verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("intact"), "{stdout}");
}

#[tokio::test]
async fn the_audit_table_refuses_updates_and_deletes() {
    let app = TestApp::spawn().await;
    app.admin().api.new_flag(PROJECT, "some-flag").await;
    let mut c = app.sql().await;
    let err = switchyard::db::query("update audit_log set action = 'x' where seq = 1")
        .execute(&mut c)
        .await
        .expect_err("UPDATE on the audit log must abort");
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = switchyard::db::query("delete from audit_log where seq = 1")
        .execute(&mut c)
        .await
        .expect_err("DELETE on the audit log must abort");
    assert!(err.to_string().contains("append-only"), "{err}");
    let out = app.cli(&["audit", "verify"]);
    assert!(out.status.success());

    // The API has no way to change it either.
    let api = app.admin().api;
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
        reqwest::Method::DELETE,
    ] {
        let r = api
            .send(method.clone(), "/api/admin/audit", Some(&json!({})))
            .await;
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
}

/// On PostgreSQL the same tampering happens in place, the append-only triggers switched off by
/// the table's owner (as a database administrator could), then the entry put back.
#[tokio::test]
async fn audit_verify_names_an_entry_tampered_in_place_on_postgresql() {
    if !on_postgres() {
        return;
    }
    let app = TestApp::spawn().await;
    let admin = app.admin().api;
    for i in 0..5 {
        admin.new_flag(PROJECT, &format!("f{i}")).await;
    }
    let mut c = app.sql().await;
    let action: String = switchyard::db::query_scalar("select action from audit_log where seq = 3")
        .fetch_one(&mut c)
        .await
        .unwrap();
    for sql in [
        "alter table audit_log disable trigger user",
        "update audit_log set action = 'x' where seq = 3",
    ] {
        switchyard::db::query(sql).execute(&mut c).await.unwrap();
    }
    let out = app.cli(&["audit", "verify"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "tampering went unnoticed: {stderr}");
    assert!(stderr.contains("entry 3"), "{stderr}");

    switchyard::db::query("update audit_log set action = ? where seq = 3")
        .bind(&action)
        .execute(&mut c)
        .await
        .unwrap();
    assert!(app.cli(&["audit", "verify"]).status.success());
    switchyard::db::query("delete from audit_log where seq = 3")
        .execute(&mut c)
        .await
        .unwrap();
    let out = app.cli(&["audit", "verify"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !out.status.success(),
        "a deleted entry went unnoticed: {stderr}"
    );
    assert!(
        stderr.contains("entry 3") || stderr.contains("entry 4"),
        "{stderr}"
    );
}

#[tokio::test]
async fn audit_verify_names_the_first_tampered_entry() {
    let app = TestApp::spawn().await;
    let admin = app.admin().api;
    for i in 0..5 {
        admin.new_flag(PROJECT, &format!("f{i}")).await;
    }
    assert!(app.audit_count().await >= 5);

    // Work on copies taken while the server runs (VACUUM INTO is a consistent snapshot): SQLite
    // only.
    let Some(mut c) = app.sqlite_file().await else {
        return;
    };
    let copy = |name: &str| {
        let path = app.dir().join(name);
        let path_str = path.display().to_string();
        (path, path_str)
    };
    let (changed, changed_str) = copy("changed.db");
    let (deleted, deleted_str) = copy("deleted.db");
    {
        for p in [&changed_str, &deleted_str] {
            sqlx::query(&format!("vacuum into '{p}'"))
                .execute(&mut c)
                .await
                .unwrap();
        }
    }

    {
        let mut c = connect(&changed).await;
        sqlx::query("drop trigger audit_log_no_update")
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query("update audit_log set action = 'x' where seq = 3")
            .execute(&mut c)
            .await
            .unwrap();
    }
    let out = cli_on(
        &format!("sqlite://{changed_str}"),
        &["audit", "verify"],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "tampering went unnoticed: {stderr}");
    assert!(stderr.contains("entry 3"), "{stderr}");

    {
        let mut c = connect(&deleted).await;
        sqlx::query("drop trigger audit_log_no_delete")
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query("delete from audit_log where seq = 3")
            .execute(&mut c)
            .await
            .unwrap();
    }
    let out = cli_on(
        &format!("sqlite://{deleted_str}"),
        &["audit", "verify"],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a deleted entry went unnoticed: {stderr}"
    );
    assert!(
        stderr.contains("entry 3") || stderr.contains("entry 4"),
        "{stderr}"
    );

    // The original is untouched and still verifies.
    assert!(app.cli(&["audit", "verify"]).status.success());
}
