//! The command line: secrets on stdout only, hashes at rest, errors on stderr (contract "The binary").

use crate::support::{assert_success, TestApp, ADMIN_EMAIL, PROJECT};
use reqwest::StatusCode;
use serde_json::Value;
use std::process::Output;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn token_create_prints_only_the_secret_and_stores_only_its_hash() {
    let app = TestApp::spawn().await;
    let out = app.cli(&[
        "token",
        "create",
        "--type",
        "admin",
        "--project",
        PROJECT,
        "--user",
        ADMIN_EMAIL,
        "--name",
        "ci",
    ]);
    assert_success(&out, "token create");
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "stdout must be the secret alone: {stdout:?}"
    );
    let secret = lines[0];
    assert!(secret.len() >= 32, "{secret:?}");
    assert!(!secret.contains(char::is_whitespace), "{secret:?}");

    // It works, in both header forms.
    for presented in [secret.to_string(), format!("Bearer {secret}")] {
        let r = app.api(Some(presented)).get("/api/admin/projects").await;
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["projects"][0]["key"], PROJECT, "{body}");
    }

    // Flush the WAL into the main file, then look for the secret's bytes anywhere on disk.
    if let Some(mut c) = app.sqlite_file().await {
        sqlx::query("pragma wal_checkpoint(full)")
            .execute(&mut c)
            .await
            .unwrap();
    }
    for entry in std::fs::read_dir(app.dir()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !contains(&bytes, secret.as_bytes()),
            "the secret is stored in {}",
            path.display()
        );
    }
}

fn assert_one_sentence_error(out: &Output, mentions: &str) {
    assert!(
        !out.status.success(),
        "expected a failure: {}",
        text(&out.stdout)
    );
    assert_eq!(text(&out.stdout), "", "nothing on stdout when failing");
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one clear sentence on stderr: {stderr:?}");
    assert!(
        stderr.contains(mentions),
        "{stderr:?} should mention {mentions:?}"
    );
}

#[tokio::test]
async fn cli_errors_go_to_stderr_with_a_non_zero_exit_and_change_nothing() {
    let app = TestApp::spawn().await;
    let before = app.fingerprint().await;

    let out = app.cli(&[
        "token",
        "create",
        "--type",
        "admin",
        "--project",
        "nope",
        "--user",
        ADMIN_EMAIL,
        "--name",
        "x",
    ]);
    assert_one_sentence_error(&out, "nope");

    let out = app.cli(&[
        "token",
        "create",
        "--type",
        "admin",
        "--project",
        PROJECT,
        "--user",
        "ghost@example.com",
        "--name",
        "x",
    ]);
    assert_one_sentence_error(&out, "ghost@example.com");

    let out = app.cli(&[
        "token",
        "create",
        "--type",
        "client",
        "--project",
        PROJECT,
        "--name",
        "x",
    ]);
    assert_one_sentence_error(&out, "environment");

    let out = app.cli(&[
        "token",
        "create",
        "--type",
        "client",
        "--project",
        PROJECT,
        "--environment",
        "moon",
        "--name",
        "x",
    ]);
    assert_one_sentence_error(&out, "moon");

    let out = app.cli(&[
        "member",
        "add",
        "--project",
        PROJECT,
        "--email",
        "ghost@example.com",
        "--role",
        "editor",
    ]);
    assert_one_sentence_error(&out, "ghost@example.com");

    let out = app.cli(&["project", "create", "--key", PROJECT]);
    assert!(!out.status.success());
    assert_eq!(text(&out.stdout), "");

    let out = app.cli_with_stdin(
        &[
            "user",
            "create",
            "--email",
            "weak@example.com",
            "--password-stdin",
        ],
        Some("short"),
    );
    assert_one_sentence_error(&out, "password");

    let out = app.cli_with_stdin(
        &["user", "create", "--email", ADMIN_EMAIL, "--password-stdin"],
        Some("another-long-passphrase-77"),
    );
    assert_one_sentence_error(&out, ADMIN_EMAIL);

    assert_eq!(app.fingerprint().await, before);
}

#[tokio::test]
async fn a_user_created_on_the_command_line_can_sign_in() {
    let app = TestApp::spawn().await;
    app.create_user("cli-user@example.com");
    let b = app.signed_in("cli-user@example.com").await;
    assert!(b.is_signed_in().await);
    let mut c = app.sql().await;
    let hash: String =
        switchyard::db::query_scalar("select password_hash from users where email = ?")
            .bind("cli-user@example.com")
            .fetch_one(&mut c)
            .await
            .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
}
