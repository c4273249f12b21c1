//! Code references (issue 12, item 3): `switchyard scan` on fixture trees and a real git
//! checkout, writing the database or uploading through the admin API; the bad-input refusals;
//! the API's shapes and checks; the flag page's Code tab; the stale rules' evidence.

use crate::support::{assert_success, TestApp, ADMIN_EMAIL, PROJECT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const CLOCK: &str = "2031-05-06T07:08:09Z";

/// Runs `switchyard scan ARGS` against the app's database, with `envs` set.
fn scan(app: &TestApp, args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("--database-url")
        .arg(app.database_url())
        .arg("scan")
        .args(args)
        .env("SWITCHYARD_LOG", "warn")
        .env_remove("SWITCHYARD_DATABASE_URL")
        .env_remove("SWITCHYARD_TEST_CLOCK_FILE")
        .env_remove("SWITCHYARD_TOKEN")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run switchyard scan")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(root: &Path, rel: &str, content: impl AsRef<[u8]>) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A tree with references, near misses, ignored files, a binary file and a nested directory.
fn fixture(root: &Path) {
    write(root, ".gitignore", "ignored/\n*.log\n");
    write(
        root,
        "src/app.ts",
        "import { flags } from \"./flags\";\n\
         \n\
         if (flags.isEnabled(\"new-checkout\")) {\n\
         \x20 renderNewCheckout();\n\
         } else if (flags.isEnabled('checkout')) {\n\
         \x20 const old_checkout_total = 1; // a longer identifier, not a reference\n\
         }\n",
    );
    write(
        root,
        "src/nested/deep/search.py",
        "# beta.searches is something else\n\
         def search():\n\
         \x20   return client.is_enabled(\"beta.search\")\n",
    );
    write(
        root,
        "notes.md",
        "checkout_v2, my-checkout and new-checkout-legacy are not flags\n",
    );
    write(root, "ignored/generated.js", "isEnabled('checkout')\n");
    write(root, "debug.log", "checkout\n");
    write(
        root,
        "assets/logo.bin",
        b"\x89PNG\r\n\x1a\n\0\0\0checkout\0",
    );
}

async fn fixture_flags(app: &TestApp) {
    let admin = app.admin();
    for key in ["checkout", "new-checkout", "beta.search", "unused-flag"] {
        admin.api.new_flag(PROJECT, key).await;
    }
}

fn clock_file(app: &TestApp, at: &str) -> String {
    let path = app.dir().join(format!("clock-{at}"));
    std::fs::write(&path, at).unwrap();
    path.display().to_string()
}

async fn json_of(r: reqwest::Response, want: StatusCode) -> Value {
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, want, "{body}");
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

fn refs_of(scan: &Value) -> Vec<(String, String, i64, String)> {
    scan["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["flag"].as_str().unwrap().to_string(),
                r["file"].as_str().unwrap().to_string(),
                r["line"].as_i64().unwrap(),
                r["snippet"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn reference(flag: &str, file: &str, line: i64, snippet: &str) -> (String, String, i64, String) {
    (flag.into(), file.into(), line, snippet.into())
}

#[tokio::test]
async fn scan_records_whole_token_references_honouring_gitignore_and_skipping_binaries() {
    let app = TestApp::spawn().await;
    fixture_flags(&app).await;
    let tree = tempfile::tempdir().unwrap();
    fixture(tree.path());
    let clock = clock_file(&app, CLOCK);
    let tree_arg = tree.path().display().to_string();
    let admin = app.admin();
    let before = app.audit_count().await;

    let out = scan(
        &app,
        &["--project", PROJECT, "--repository", "shop", &tree_arg],
        &[("SWITCHYARD_TEST_CLOCK_FILE", &clock)],
    );
    assert_success(&out, "scan");
    assert_eq!(
        text(&out.stdout).trim(),
        "Recorded the scan of shop in project web: 3 references to 3 of 4 flags in 2 files; \
         3 files scanned, 1 binary skipped"
    );

    let one = json_of(
        admin
            .api
            .get("/api/admin/projects/web/code-references/shop")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        refs_of(&one),
        [
            reference(
                "new-checkout",
                "src/app.ts",
                3,
                "if (flags.isEnabled(\"new-checkout\")) {"
            ),
            reference(
                "checkout",
                "src/app.ts",
                5,
                "} else if (flags.isEnabled('checkout')) {"
            ),
            reference(
                "beta.search",
                "src/nested/deep/search.py",
                3,
                "return client.is_enabled(\"beta.search\")"
            ),
        ]
    );
    assert_eq!(
        one["scan"]["scannedAt"], "2031-05-06T07:08:09.000Z",
        "{one}"
    );
    assert_eq!(one["scan"]["commit"], Value::Null, "not a checkout: {one}");
    assert_eq!(one["scan"]["recordedBy"], "scan");

    let list = json_of(
        admin
            .api
            .get("/api/admin/projects/web/code-references")
            .await,
        StatusCode::OK,
    )
    .await;
    let repos = list["repositories"].as_array().unwrap();
    assert_eq!(repos.len(), 1, "{list}");
    assert_eq!(
        (
            &repos[0]["repository"],
            &repos[0]["references"],
            &repos[0]["flags"],
            &repos[0]["files"]
        ),
        (&json!("shop"), &json!(3), &json!(3), &json!(2))
    );

    // Audited, with the counts.
    assert_eq!(app.audit_count().await, before + 1);
    let audit = json_of(
        admin.api.audit("action=code-references.scanned").await,
        StatusCode::OK,
    )
    .await;
    let entry = &audit["entries"][0];
    assert_eq!(entry["target"], "repository shop", "{audit}");
    assert_eq!(
        (
            &entry["after"]["references"],
            &entry["after"]["flags"],
            &entry["after"]["files"]
        ),
        (&json!(3), &json!(3), &json!(2)),
        "{entry}"
    );
    assert_eq!(
        entry["before"],
        Value::Null,
        "the first scan of shop: {entry}"
    );

    // A new scan replaces the previous one.
    write(tree.path(), "src/app.ts", "flags.isEnabled(\"checkout\")\n");
    let out = scan(
        &app,
        &["--project", PROJECT, "--repository", "shop", &tree_arg],
        &[("SWITCHYARD_TEST_CLOCK_FILE", &clock)],
    );
    assert_success(&out, "scan again");
    let one = json_of(
        admin
            .api
            .get("/api/admin/projects/web/code-references/shop")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        refs_of(&one),
        [
            reference("checkout", "src/app.ts", 1, "flags.isEnabled(\"checkout\")"),
            reference(
                "beta.search",
                "src/nested/deep/search.py",
                3,
                "return client.is_enabled(\"beta.search\")"
            ),
        ]
    );
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

#[tokio::test]
async fn scan_of_a_git_checkout_records_its_commit_branch_and_name() {
    let app = TestApp::spawn().await;
    fixture_flags(&app).await;
    let parent = tempfile::tempdir().unwrap();
    let repo = parent.path().join("storefront");
    std::fs::create_dir_all(&repo).unwrap();
    fixture(&repo);
    git(&repo, &["init", "-q"]);
    git(&repo, &["checkout", "-q", "-b", "release/2.1"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "fixture"]);
    let head = git(&repo, &["rev-parse", "HEAD"]);
    // Ignored by .gitignore, present on disk: still not scanned.
    assert!(repo.join("ignored/generated.js").exists());

    // Scanning a subdirectory still names files from the checkout's top, and the checkout
    // names the repository.
    let sub = repo.join("src").display().to_string();
    let out = scan(&app, &["--project", PROJECT, &sub], &[]);
    assert_success(&out, "scan of a checkout");
    let said = text(&out.stdout);
    assert!(
        said.contains(&format!(
            "storefront in project web (commit {} on release/2.1)",
            &head[..12]
        )),
        "{said}"
    );
    let one = json_of(
        app.admin()
            .api
            .get("/api/admin/projects/web/code-references/storefront")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one["scan"]["commit"], head.as_str(), "{one}");
    assert_eq!(one["scan"]["branch"], "release/2.1", "{one}");
    let files: Vec<String> = refs_of(&one).into_iter().map(|r| r.1).collect();
    assert_eq!(
        files,
        ["src/app.ts", "src/app.ts", "src/nested/deep/search.py"]
    );
}

#[tokio::test]
async fn scan_uploads_through_the_api_with_an_admin_token_reading_every_page_of_keys() {
    let app = TestApp::spawn().await;
    let editor = app.user("editor");
    // More flags than one page of the list (50): the last keys are on the second page.
    for i in 0..60 {
        editor.api.new_flag(PROJECT, &format!("flag-{i:02}")).await;
    }
    editor.api.new_flag(PROJECT, "zz-last").await;
    let r = editor.api.archive(PROJECT, "zz-last").await;
    assert_eq!(r.status(), StatusCode::OK);
    let tree = tempfile::tempdir().unwrap();
    write(
        tree.path(),
        "main.go",
        "if client.IsEnabled(\"flag-03\") {}\nif client.IsEnabled(\"flag-59\") {}\n// zz-last is archived\n",
    );
    let token = app.admin_token(PROJECT, &editor.email);
    let tree_arg = tree.path().display().to_string();
    let before = app.audit_count().await;
    let out = scan(
        &app,
        &[
            "--project",
            PROJECT,
            "--repository",
            "acme/api",
            "--url",
            &app.base,
            &tree_arg,
        ],
        &[("SWITCHYARD_TOKEN", &token)],
    );
    assert_success(&out, "scan --url");
    assert!(
        text(&out.stdout).starts_with(
            "Uploaded the scan of acme/api in project web: 3 references to 3 of 61 flags"
        ),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(app.audit_count().await, before + 1);
    let one = json_of(
        editor
            .api
            .get("/api/admin/projects/web/code-references/acme%2Fapi")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one["scan"]["recordedBy"], editor.email.as_str(), "{one}");
    let flags: Vec<String> = refs_of(&one).into_iter().map(|r| r.0).collect();
    assert_eq!(flags, ["flag-03", "flag-59", "zz-last"]);

    // The flag's own view, with every repository that reported.
    let mine = json_of(
        editor
            .api
            .get("/api/admin/projects/web/flags/flag-59/code-references")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(mine["references"], 1, "{mine}");
    assert_eq!(mine["repositories"][0]["repository"], "acme/api");
    assert_eq!(mine["repositories"][0]["references"][0]["line"], 2);
}

/// Arguments, environment, and what the one line on stderr mentions.
type BadScan<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);

fn assert_refused(out: &Output, mentions: &str) {
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit code 2: {}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "", "nothing on stdout");
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {stderr:?}");
    assert!(
        lines[0].contains(mentions),
        "{:?} should mention {mentions:?}",
        lines[0]
    );
}

#[tokio::test]
async fn bad_scans_exit_2_with_one_line_and_write_nothing() {
    let app = TestApp::spawn().await;
    fixture_flags(&app).await;
    let out = app.cli(&["project", "create", "--key", "other", "--name", "Other"]);
    assert_success(&out, "project create");
    let tree = tempfile::tempdir().unwrap();
    fixture(tree.path());
    let tree_arg = tree.path().display().to_string();
    let missing = tree.path().join("no-such-dir").display().to_string();
    let web_token = app.admin_token(PROJECT, ADMIN_EMAIL);
    let other_token = app.admin_token("other", ADMIN_EMAIL);
    let before = app.audit_count().await;

    let cases: Vec<BadScan> = vec![
        (
            vec!["--project", PROJECT, &missing],
            vec![],
            "does not exist",
        ),
        (
            vec!["--project", PROJECT, &tree_arg, &missing],
            vec![],
            "does not exist",
        ),
        (
            vec!["--project", "nope", &tree_arg],
            vec![],
            "there is no project \"nope\"",
        ),
        (
            vec!["--project", PROJECT, "--url", &app.base, &missing],
            vec![("SWITCHYARD_TOKEN", &web_token)],
            "does not exist",
        ),
        (
            vec!["--project", "nope", "--url", &app.base, &tree_arg],
            vec![("SWITCHYARD_TOKEN", &web_token)],
            "there is no project \"nope\"",
        ),
        // A token of another project sees no project web: the same answer as none.
        (
            vec![
                "--project",
                PROJECT,
                "--url",
                &app.base,
                "--token",
                &other_token,
                &tree_arg,
            ],
            vec![],
            "there is no project \"web\"",
        ),
        (
            vec![
                "--project",
                PROJECT,
                "--url",
                &app.base,
                "--token",
                "not-a-token",
                &tree_arg,
            ],
            vec![],
            "token",
        ),
        (
            vec!["--project", PROJECT, "--url", &app.base, &tree_arg],
            vec![],
            "--token",
        ),
        (
            vec!["--project", PROJECT, "--repository", "a b", &tree_arg],
            vec![],
            "repository name",
        ),
    ];
    for (args, envs, mentions) in &cases {
        let out = scan(&app, args, envs);
        assert_refused(&out, mentions);
    }
    assert_eq!(app.audit_count().await, before, "nothing audited");
    let list = json_of(
        app.admin()
            .api
            .get("/api/admin/projects/web/code-references")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["repositories"], json!([]), "nothing recorded");

    // Without a database the scan does not make one where it runs.
    let empty = tempfile::tempdir().unwrap();
    let db = empty.path().join("none.db");
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["--database-url", &format!("sqlite://{}", db.display())])
        .args(["scan", "--project", PROJECT, &tree_arg])
        .env_remove("SWITCHYARD_DATABASE_URL")
        .output()
        .unwrap();
    assert_refused(&out, "there is no database");
    assert!(!db.exists());
}

#[tokio::test]
async fn malformed_uploads_are_refused_naming_the_field_and_change_nothing() {
    let app = TestApp::spawn().await;
    fixture_flags(&app).await;
    let admin = app.admin();
    let put = |body: Value| {
        let api = admin.api.clone();
        async move {
            api.send(
                Method::PUT,
                "/api/admin/projects/web/code-references/shop",
                Some(&body),
            )
            .await
        }
    };
    let good_ref = json!({"flag": "checkout", "file": "a.ts", "line": 1, "snippet": "x"});
    let cases = [
        (json!({"references": [good_ref]}), "scannedAt"),
        (json!({"scannedAt": "2020-01-01T00:00:00Z"}), "references"),
        (json!({"scannedAt": "soon", "references": []}), "scannedAt"),
        (
            json!({"scannedAt": "2020-01-01T00:00:00Z", "references": [good_ref, {"flag": "checkout", "file": "a.ts", "line": "two"}]}),
            "references[1].line",
        ),
        (
            json!({"scannedAt": "2020-01-01T00:00:00Z", "references": [{"flag": "checkout", "file": "../../etc/passwd", "line": 1}]}),
            "references[0].file",
        ),
        (
            json!({"scannedAt": "2020-01-01T00:00:00Z", "references": [good_ref, {"flag": "no-such-flag", "file": "a.ts", "line": 1}]}),
            "references[1].flag",
        ),
        (
            json!({"scannedAt": "2020-01-01T00:00:00Z", "references": [], "commitSha": "abc"}),
            "commitSha",
        ),
    ];
    let before = app.audit_count().await;
    for (body, field) in cases {
        let r = put(body.clone()).await;
        let answer = json_of(r, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(answer["error"], "invalid-input", "{answer}");
        assert_eq!(answer["fields"][0]["field"], field, "{body} → {answer}");
        assert!(
            answer["message"].as_str().unwrap().contains(field),
            "{answer}"
        );
    }
    // A bad repository name, in the path.
    let r = admin
        .api
        .send(
            Method::PUT,
            "/api/admin/projects/web/code-references/a%20b",
            Some(&json!({"scannedAt": "2020-01-01T00:00:00Z", "references": []})),
        )
        .await;
    let answer = json_of(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(answer["fields"][0]["field"], "repository", "{answer}");
    // Not JSON at all.
    let r = admin
        .api
        .request(Method::PUT, "/api/admin/projects/web/code-references/shop")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let answer = json_of(r, StatusCode::BAD_REQUEST).await;
    assert_eq!(answer["error"], "malformed-json");

    assert_eq!(app.audit_count().await, before, "nothing audited");
    let list = json_of(
        admin
            .api
            .get("/api/admin/projects/web/code-references")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["repositories"], json!([]));
}

#[tokio::test]
async fn uploading_needs_an_editor_of_the_project() {
    let app = TestApp::spawn().await;
    fixture_flags(&app).await;
    let body = json!({"scannedAt": "2020-01-01T00:00:00Z", "references": []});
    let path = "/api/admin/projects/web/code-references/shop";
    let viewer = app.user("viewer");
    let r = viewer.api.send(Method::PUT, path, Some(&body)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A viewer reads.
    let r = viewer
        .api
        .get("/api/admin/projects/web/code-references")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let stranger = app.stranger();
    let r = stranger.api.send(Method::PUT, path, Some(&body)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = stranger
        .api
        .get("/api/admin/projects/web/code-references")
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // An admin token of another project, held by an admin: this project is not there for it.
    let out = app.cli(&["project", "create", "--key", "other", "--name", "Other"]);
    assert_success(&out, "project create");
    let elsewhere = app.api(Some(app.admin_token("other", ADMIN_EMAIL)));
    let r = elsewhere.send(Method::PUT, path, Some(&body)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let client = app.api(Some(app.feed_token("client", PROJECT, "development")));
    let r = client.send(Method::PUT, path, Some(&body)).await;
    assert!(matches!(r.status().as_u16(), 401 | 403), "{}", r.status());
    let editor = app.user("editor");
    let r = editor.api.send(Method::PUT, path, Some(&body)).await;
    assert_eq!(r.status(), StatusCode::OK);
}

async fn upload(api: &crate::support::Api, repo: &str, body: Value) {
    let r = api
        .send(
            Method::PUT,
            &format!("/api/admin/projects/web/code-references/{repo}"),
            Some(&body),
        )
        .await;
    json_of(r, StatusCode::OK).await;
}

#[tokio::test]
async fn code_tab_groups_references_by_repository_with_escaped_snippets_and_links() {
    let app = TestApp::spawn().await;
    fixture_flags(&app).await;
    let admin = app.admin();
    let r = admin
        .api
        .send(
            Method::PUT,
            "/api/admin/projects/web/code-url-template",
            Some(&json!({"codeUrlTemplate": "https://git.example.com/acme/{repository}/blob/{commit}/{file}#L{line}"})),
        )
        .await;
    json_of(r, StatusCode::OK).await;
    upload(
        &admin.api,
        "storefront",
        json!({"commit": "0123456789abcdef0123456789abcdef01234567", "branch": "main",
            "scannedAt": "2026-01-02T03:04:05Z",
            "references": [
                {"flag": "checkout", "file": "src/cart page.ts", "line": 12, "snippet": "if (on(\"checkout\")) { el.innerHTML = '<script>alert(1)</script>' }"},
                {"flag": "checkout", "file": "src/app.ts", "line": 3, "snippet": "on(\"checkout\")"},
                {"flag": "new-checkout", "file": "src/app.ts", "line": 4, "snippet": "on(\"new-checkout\")"}
            ]}),
    )
    .await;
    upload(
        &admin.api,
        "mobile",
        json!({"branch": "develop", "scannedAt": "2026-01-02T03:00:00Z", "references": []}),
    )
    .await;

    let b = app.signed_in(ADMIN_EMAIL).await;
    let r = b.get("/projects/web/flags/checkout/code").await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("<html"), "a full page");
    for want in [
        "aria-current=\"page\">Code</a>",
        ">storefront</h3>",
        "0123456789ab</code>",
        "<code>main</code>",
        "2026-01-02 03:04",
        "href=\"https://git.example.com/acme/storefront/blob/0123456789abcdef0123456789abcdef01234567/src/cart%20page.ts#L12\"",
        "src/cart page.ts:12</a>",
        "src/app.ts:3</a>",
        "&#39;&#60;script&#62;alert(1)&#60;/script&#62;&#39;",
        ">mobile</h3>",
        "Not found in this repository",
        "2 references in the latest scan",
    ] {
        assert!(html.contains(want), "the Code tab lacks {want:?}:\n{html}");
    }
    assert!(!html.contains("<script>alert(1)"), "snippets are escaped");
    assert!(!html.contains("src/app.ts:4"), "another flag's reference");

    // htmx gets the partial; the flag page links the tab.
    let r = b
        .client
        .get(format!("{}/projects/web/flags/checkout/code", b.base))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    let partial = r.text().await.unwrap();
    assert!(
        !partial.contains("<html") && partial.contains(">storefront</h3>"),
        "{partial}"
    );
    let page = b
        .get("/projects/web/flags/checkout")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("/projects/web/flags/checkout/code\">Code</a>"),
        "{page}"
    );
}

#[tokio::test]
async fn code_tab_without_scans_says_how_to_run_one() {
    let app = TestApp::spawn().await;
    fixture_flags(&app).await;
    let b = app.signed_in(ADMIN_EMAIL).await;
    let html = b
        .get("/projects/web/flags/checkout/code")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("No repository has reported"), "{html}");
    assert!(html.contains("switchyard scan --project web ."), "{html}");
    let r = b.get("/projects/web/flags/no-such-flag/code").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_url_template_is_checked_and_audited_in_the_settings_form_and_the_api() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let path = "/api/admin/projects/web/code-url-template";
    let r = admin
        .api
        .send(
            Method::PUT,
            path,
            Some(&json!({"codeUrlTemplate": "https://x.example/{user}/{file}"})),
        )
        .await;
    let answer = json_of(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(answer["fields"][0]["field"], "codeUrlTemplate", "{answer}");
    let editor = app.user("editor");
    let r = editor
        .api
        .send(
            Method::PUT,
            path,
            Some(&json!({"codeUrlTemplate": "https://x.example/{file}"})),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let b = app.signed_in(ADMIN_EMAIL).await;
    let csrf = b.csrf().await;
    let form = |template: &'static str| {
        vec![
            ("name", "Web"),
            ("description", ""),
            ("key_pattern", ""),
            ("key_example", ""),
            ("code_url_template", template),
        ]
    };
    let mut bad = form("ftp://x/{file}");
    bad.push(("csrf_token", &csrf));
    let r = b.post_form("/projects/web/settings", &bad, &[]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("starts with https://"), "{html}");
    let before = app.audit_count().await;
    let good_template = "https://github.com/acme/{repository}/blob/{commit}/{file}#L{line}";
    let mut good = form(good_template);
    good.push(("csrf_token", &csrf));
    let r = b.post_form("/projects/web/settings", &good, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.audit_count().await,
        before + 1,
        "one entry: the template"
    );
    let got = json_of(admin.api.get(path).await, StatusCode::OK).await;
    assert_eq!(got["codeUrlTemplate"], good_template);
    let html = b.get("/projects/web/settings").await.text().await.unwrap();
    assert!(
        html.contains(
            "value=\"https://github.com/acme/{repository}/blob/{commit}/{file}#L{line}\""
        ),
        "{html}"
    );
    // Saving again unchanged audits nothing; a form without the field leaves it as it is.
    let r = b.post_form("/projects/web/settings", &good, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let mut without = form("");
    without.retain(|(k, _)| *k != "code_url_template");
    without.push(("csrf_token", &csrf));
    let r = b.post_form("/projects/web/settings", &without, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.audit_count().await, before + 1);
    let got = json_of(admin.api.get(path).await, StatusCode::OK).await;
    assert_eq!(got["codeUrlTemplate"], good_template);
}

async fn project_id(app: &TestApp) -> i64 {
    let mut c = app.sql().await;
    switchyard::db::query_scalar("select id from projects where key = 'web'")
        .fetch_one(&mut c)
        .await
        .unwrap()
}

/// The evidence the `no-code-references` stale rule reads (switchyard::coderefs::unreferenced).
#[tokio::test]
async fn unreferenced_flags_come_with_the_scans_that_found_nothing() {
    let app = TestApp::spawn().await;
    fixture_flags(&app).await;
    let id = project_id(&app).await;
    let pool = app.pool().await;
    {
        let mut c = pool.acquire().await.unwrap();
        let none = switchyard::coderefs::unreferenced(&mut c, id)
            .await
            .unwrap();
        assert_eq!(none, None, "no scan is no evidence");
    }
    let tree = tempfile::tempdir().unwrap();
    fixture(tree.path());
    let clock = clock_file(&app, CLOCK);
    let out = scan(
        &app,
        &[
            "--project",
            PROJECT,
            "--repository",
            "shop",
            &tree.path().display().to_string(),
        ],
        &[("SWITCHYARD_TEST_CLOCK_FILE", &clock)],
    );
    assert_success(&out, "scan");
    let mut c = pool.acquire().await.unwrap();
    let found = switchyard::coderefs::unreferenced(&mut c, id)
        .await
        .unwrap()
        .expect("a scan exists");
    let keys: Vec<&str> = found.flags.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, ["unused-flag"]);
    assert_eq!(found.scans.len(), 1);
    assert_eq!(found.scans[0].repository, "shop");
    assert_eq!(found.scans[0].scanned_at, "2031-05-06T07:08:09.000Z");

    // A repository whose latest scan predates the flags could not have looked for them.
    upload(
        &app.admin().api,
        "old",
        json!({"scannedAt": "2001-01-01T00:00:00Z", "references": []}),
    )
    .await;
    let found = switchyard::coderefs::unreferenced(&mut c, id)
        .await
        .unwrap()
        .expect("scans exist");
    assert_eq!(found.scans.len(), 2);
    assert!(found.flags.is_empty(), "{:?}", found.flags);
}

/// In real Chromium: from the flag page to its Code tab, after a scan of a git checkout.
#[tokio::test]
async fn a_person_follows_the_code_tab_to_the_references_of_a_scanned_checkout() {
    use crate::support::browser::Chrome;
    use crate::support::PASSWORD;
    let app = TestApp::spawn().await;
    fixture_flags(&app).await;
    let parent = tempfile::tempdir().unwrap();
    let repo = parent.path().join("storefront");
    fixture(&repo);
    write(
        &repo,
        "src/checkout/page.tsx",
        "export function Page() {\n  const on = useFlag(\"checkout\");\n  return on ? <NewCart /> : <OldCart />;\n}\n",
    );
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "fixture"]);
    let admin = app.admin();
    let r = admin
        .api
        .send(
            Method::PUT,
            "/api/admin/projects/web/code-url-template",
            Some(&json!({"codeUrlTemplate": "https://github.com/acme/{repository}/blob/{commit}/{file}#L{line}"})),
        )
        .await;
    json_of(r, StatusCode::OK).await;
    let out = scan(
        &app,
        &["--project", PROJECT, &repo.display().to_string()],
        &[],
    );
    assert_success(&out, "scan");

    let chrome = Chrome::start(&app.base).await;
    chrome.goto("/login").await;
    chrome.fill("#email", ADMIN_EMAIL).await;
    chrome.fill("#password", PASSWORD).await;
    chrome
        .click("form[action='/login'] button[type='submit']")
        .await;
    chrome.wait_for(".topnav-user").await;
    chrome.goto("/projects/web/flags/checkout").await;
    chrome.click("nav.tabs a[href$='/code']").await;
    chrome.wait_for("#code table").await;
    chrome.screenshot("code-tab").await;
    let body = chrome.body_text().await;
    for want in [
        "storefront",
        "src/app.ts:5",
        "src/checkout/page.tsx:2",
        "useFlag(\"checkout\")",
    ] {
        assert!(body.contains(want), "the Code tab lacks {want:?}:\n{body}");
    }
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let link = chrome
        .wait_for("a[href*='src/checkout/page.tsx#L2']")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        link,
        format!("https://github.com/acme/storefront/blob/{head}/src/checkout/page.tsx#L2")
    );
    chrome.quit().await;
}
