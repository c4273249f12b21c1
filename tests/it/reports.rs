//! The weekly cleanup report (issue 12, item 5) over HTTP and the command line, on a test clock:
//! kept once per ISO week even across a restart, its contents (stale flags with their reasons
//! in their owner's group, what changed since the last kept report), the three formats, the
//! `report.stale` webhook, 404 for an unknown report, and nothing of a project to anyone who
//! may not see it.

use crate::support::{assert_success, Api, TestApp, ADMIN_EMAIL, PASSWORD, PROJECT};
use crate::webhooks::{allow, Receiver};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

struct Clock {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Clock {
    fn at(now: &str) -> Clock {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("now");
        std::fs::write(&path, now).unwrap();
        Clock { _dir: dir, path }
    }

    fn set(&self, now: &str) {
        std::fs::write(&self.path, now).unwrap();
    }

    fn file(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

async fn json_of(api: &Api, path: &str) -> (StatusCode, Value) {
    let r = api.get(path).await;
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The kept reports of `web`, newest first.
async fn kept(api: &Api) -> Vec<Value> {
    let (status, body) = json_of(api, &format!("/api/admin/reports?project={PROJECT}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["reports"].as_array().unwrap().clone()
}

/// Waits until `web` has `n` kept reports.
/// Waits until every delivery of webhook `id` is recorded as delivered.
async fn wait_delivered(api: &Api, id: i64) {
    let start = Instant::now();
    let path = format!("/api/admin/projects/{PROJECT}/webhooks/{id}/deliveries");
    loop {
        let (status, body) = json_of(api, &path).await;
        assert_eq!(status, StatusCode::OK);
        let all = body["deliveries"].as_array().unwrap();
        if !all.is_empty() && all.iter().all(|d| d["status"] == "delivered") {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "webhook {id}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for_reports(api: &Api, n: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let reports = kept(api).await;
        if reports.len() >= n {
            return reports;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{} of {n} reports kept: {reports:?}",
            reports.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn create(api: &Api, body: Value) {
    let r = api.create_flag(PROJECT, &body).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{body}");
}

/// A listed flag: (key, state, reason codes).
type Listed = (String, String, Vec<String>);

/// Every group of the report as (owner e-mail or kind, its flags).
fn groups(report: &Value) -> Vec<(String, Vec<Listed>)> {
    report["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let owner = g["owner"]["email"]
                .as_str()
                .unwrap_or_else(|| g["owner"]["kind"].as_str().unwrap())
                .to_string();
            let flags = g["flags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    let codes = f["reasons"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r["code"].as_str().unwrap().to_string())
                        .collect();
                    (
                        f["key"].as_str().unwrap().to_string(),
                        f["state"].as_str().unwrap().to_string(),
                        codes,
                    )
                })
                .collect();
            (owner, flags)
        })
        .collect()
}

fn report_cli(app: &TestApp, clock: &Clock, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["--database-url", &app.database_url(), "report", "stale"])
        .args(args)
        .env("SWITCHYARD_TEST_CLOCK_FILE", clock.file())
        .env("SWITCHYARD_LOG", "warn")
        .env_remove("SWITCHYARD_DATABASE_URL")
        .output()
        .unwrap()
}

#[tokio::test]
async fn the_weekly_report_is_kept_once_a_week_across_restarts_and_tells_what_changed() {
    // Monday 6 January 2031, an hour before the report of ISO week 2031-W02 is due.
    let clock = Clock::at("2031-01-06T08:00:00Z");
    let (receiver, base) = Receiver::start(0).await;
    let (allow_key, hosts) = allow(&[&base]);
    let mut app = TestApp::spawn_with_env(&[
        ("SWITCHYARD_TEST_CLOCK_FILE", clock.file()),
        ("SWITCHYARD_LIFECYCLE_INTERVAL_SECONDS", "1"),
        ("SWITCHYARD_PUBLIC_URL", "https://flags.example.com"),
        (allow_key, &hosts),
    ])
    .await;
    let admin = app.admin();
    let mut hooks = Vec::new();
    for (name, format) in [("generic", "generic"), ("slack", "slack")] {
        let body =
            json!({"url": format!("{base}/{name}"), "format": format, "events": ["report.stale"]});
        let r = admin.api.add_webhook(PROJECT, &body).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let created: Value = r.json().await.unwrap();
        hooks.push(created["webhook"]["id"].as_i64().unwrap());
    }
    // Operational flags are expected to live 7 days; a flag without an owner is stale after
    // the 7-day grace period; kill switches never are.
    create(
        &admin.api,
        json!({"key": "cleanup-job", "type": "operational", "owner": ADMIN_EMAIL}),
    )
    .await;
    create(&admin.api, json!({"key": "orphan", "type": "release"})).await;
    create(
        &admin.api,
        json!({"key": "panic-button", "type": "kill-switch", "owner": ADMIN_EMAIL}),
    )
    .await;
    admin
        .api
        .toggle(PROJECT, "cleanup-job", "development", true)
        .await;

    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(kept(&admin.api).await.is_empty(), "not due before 09:00");

    clock.set("2031-01-06T09:00:30Z");
    let first = wait_for_reports(&admin.api, 1).await;
    assert_eq!(first[0]["week"], "2031-W02");
    let first_id = first[0]["id"].as_i64().unwrap();
    let (_, one) = json_of(&admin.api, &format!("/api/admin/reports/{first_id}")).await;
    let r = &one["report"];
    assert_eq!(r["totals"]["stale"], 0, "{r}");
    assert_eq!(
        r["changes"]["created"],
        json!(["cleanup-job", "orphan", "panic-button"])
    );

    let generic = receiver.wait_for("generic", 1).await;
    assert_eq!(generic[0]["event"], "report.stale");
    assert_eq!(generic[0]["report"]["week"], "2031-W02");
    assert_eq!(generic[0]["report"]["project"]["key"], PROJECT);
    assert_eq!(
        generic[0]["url"],
        format!("https://flags.example.com/reports/{first_id}")
    );
    let slack = receiver.wait_for("slack", 1).await;
    let text = slack[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("Weekly cleanup report of web: week 2031-W02, 0 stale of 3 flags"),
        "{text}"
    );

    // A restart within the same week keeps nothing more. The server is killed, so it first
    // records both deliveries as made: a delivery killed between the target's answer and that
    // record stays leased, holding back the hook's later deliveries until the lease ends.
    for hook in &hooks {
        wait_delivered(&admin.api, *hook).await;
    }
    app.restart().await;
    let admin = app.admin();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(kept(&admin.api).await.len(), 1, "not twice after a restart");
    let (_, audit) = json_of(&admin.api, "/api/admin/audit?action=report.generated").await;
    assert_eq!(audit["entries"].as_array().unwrap().len(), 1, "{audit}");
    // Delivery is at least once (a killed server may send a delivery again): one report all the same.
    let announced: std::collections::BTreeSet<String> = receiver
        .bodies("generic")
        .iter()
        .map(|b| b["report"]["id"].to_string())
        .collect();
    assert_eq!(announced.len(), 1, "{announced:?}");

    // The next Monday: both flags past their time, each in its owner's group.
    clock.set("2031-01-13T09:00:30Z");
    let reports = wait_for_reports(&admin.api, 2).await;
    assert_eq!(reports[0]["week"], "2031-W03", "newest first");
    let second = reports[0]["id"].as_i64().unwrap();
    let (status, body) = json_of(&admin.api, &format!("/api/admin/reports/{second}")).await;
    assert_eq!(status, StatusCode::OK);
    let r = &body["report"];
    assert_eq!(r["id"], second);
    assert_eq!(
        groups(r),
        [
            (
                ADMIN_EMAIL.to_string(),
                vec![(
                    "cleanup-job".to_string(),
                    "stale".to_string(),
                    vec!["past-expected-lifetime".to_string()]
                )]
            ),
            (
                "none".to_string(),
                vec![(
                    "orphan".to_string(),
                    "stale".to_string(),
                    vec!["no-owner".to_string()]
                )]
            ),
        ]
    );
    let job = &r["owners"][0]["flags"][0];
    assert_eq!(job["reasons"][0]["evidence"]["expectedLifetimeDays"], 7);
    assert_eq!(job["newThisWeek"], true);
    assert_eq!(job["url"], "/projects/web/flags/cleanup-job?tab=lifecycle");
    let dev = job["everyone"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["environment"] == "development")
        .unwrap();
    assert_eq!(dev["text"], "everyone gets `true`");
    assert_eq!(job["action"]["code"], "delete-on-path", "off in production");
    assert_eq!(r["changes"]["sinceReport"], first_id);
    assert_eq!(r["changes"]["newlyStale"], json!(["cleanup-job", "orphan"]));
    assert_eq!(r["changes"]["created"], json!([]));
    assert_eq!(r["totals"]["stale"], 2);
    assert_eq!(r["totals"]["healthPercent"], 33);
    let generic = receiver.wait_for_report("generic", second).await;
    assert_eq!(generic["report"]["totals"]["stale"], 2);
    let slack = receiver.wait_for_text("slack", "week 2031-W03").await;
    let text = slack.as_str();
    assert!(
        text.contains("• admin &lt;admin@example.com&gt;: 1 stale (cleanup-job)"),
        "{text}"
    );
    assert!(text.contains("• no owner: 1 stale (orphan)"), "{text}");
    assert!(
        text.ends_with(&format!(
            "<https://flags.example.com/reports/{second}|Open the report in Switchyard>"
        )),
        "{text}"
    );

    // The same report in three formats, over HTTP (pages' downloads) and from the command line.
    let browser = app.signed_in(ADMIN_EMAIL).await;
    let md = browser.get(&format!("/reports/{second}.md")).await;
    assert_eq!(md.status(), StatusCode::OK);
    assert!(md.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("switchyard-report-web-2031-W03.md"));
    let md = md.text().await.unwrap();
    assert!(
        md.contains("### `orphan` (orphan): stale, new this week"),
        "{md}"
    );
    assert!(
        md.contains("- Newly stale: `cleanup-job`, `orphan`"),
        "{md}"
    );
    let csv = browser
        .get(&format!("/reports/{second}.csv"))
        .await
        .text()
        .await
        .unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(
        rows[1].starts_with("\"web\",\"2031-W03\",\"admin <admin@example.com>\",\"cleanup-job\""),
        "{csv}"
    );
    let kept_json: Value = browser
        .get(&format!("/reports/{second}.json"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(kept_json["report"], *r);
    let page = browser
        .get(&format!("/reports/{second}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("href=\"/projects/web/flags/orphan?tab=lifecycle\""),
        "flags link to their evidence"
    );
    assert!(page.contains("no owner"));
    let list = browser.get("/reports").await.text().await.unwrap();
    assert!(list.contains("2031-W03") && list.contains("2031-W02"));

    let now = report_cli(&app, &clock, &["--project", PROJECT, "--format", "json"]);
    assert_success(&now, "report stale --format json");
    let now: Value = serde_json::from_slice(&now.stdout).unwrap();
    assert_eq!(groups(&now["report"]), groups(r), "the report computed now");
    assert_eq!(now["report"]["changes"]["sinceReport"], second);
    let md = report_cli(
        &app,
        &clock,
        &["--project", PROJECT, "--format", "markdown"],
    );
    assert!(String::from_utf8(md.stdout)
        .unwrap()
        .starts_with("# Cleanup report: Web (`web`), week 2031-W03"));
    let csv = report_cli(&app, &clock, &["--format", "csv"]);
    assert_eq!(String::from_utf8(csv.stdout).unwrap().lines().count(), 3);
    let unknown = report_cli(&app, &clock, &["--project", "nope", "--format", "csv"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(unknown.stderr).unwrap().trim(),
        "error: there is no project \"nope\""
    );
    // The flag's Lifecycle tab says what everyone gets; the owner's home lists it for cleanup.
    let tab = browser
        .get("/projects/web/flags/cleanup-job?tab=lifecycle")
        .await
        .text()
        .await
        .unwrap();
    assert!(tab.contains("What everyone gets today"), "{tab}");
    assert!(tab.contains("everyone gets <code>true</code>"), "{tab}");
    assert!(
        tab.contains("Delete the on-path: the flag is off for everyone in production"),
        "{tab}"
    );
    let start = Instant::now();
    loop {
        let home = browser.get("/").await.text().await.unwrap();
        if home.contains("Flags I own that need cleanup") {
            assert!(
                home.contains("href=\"/projects/web/flags/cleanup-job?tab=lifecycle\""),
                "{home}"
            );
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{home}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, api_now) = json_of(
        &admin.api,
        &format!("/api/admin/reports/stale?project={PROJECT}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(groups(&api_now["report"]), groups(r));
}

#[tokio::test]
async fn unknown_reports_are_404_and_other_projects_reports_stay_hidden() {
    let clock = Clock::at("2031-01-06T09:30:00Z");
    let app = TestApp::spawn_with_env(&[("SWITCHYARD_TEST_CLOCK_FILE", clock.file())]).await;
    let admin = app.admin();
    let reports = wait_for_reports(&admin.api, 1).await;
    let id = reports[0]["id"].as_i64().unwrap();

    let (status, body) = json_of(&admin.api, "/api/admin/reports/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not-found", "{body}");
    let (status, _) = json_of(&admin.api, "/api/admin/reports/abc").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let browser = app.signed_in(ADMIN_EMAIL).await;
    let page = browser.get("/reports/999999").await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(page.text().await.unwrap().contains("There is no report"));

    // A viewer of another project only: nothing of `web`, whichever way they ask.
    assert_success(
        &app.cli(&["project", "create", "--key", "other"]),
        "project create",
    );
    let email = "olga@example.com";
    app.create_user(email);
    app.add_member("other", email, "viewer");
    let olga = app.api(Some(app.instance_token(email)));
    let (status, body) = json_of(&olga, "/api/admin/reports").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["reports"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["project"] != PROJECT),
        "{body}"
    );
    for path in [
        format!("/api/admin/reports/{id}"),
        format!("/api/admin/reports/stale?project={PROJECT}"),
        format!("/api/admin/reports?project={PROJECT}"),
    ] {
        let (status, body) = json_of(&olga, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (_, all_now) = json_of(&olga, "/api/admin/reports/stale").await;
    let projects: Vec<&str> = all_now["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["project"]["key"].as_str().unwrap())
        .collect();
    assert_eq!(projects, ["other"]);
    let b = app.browser();
    assert_eq!(
        b.login(email, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        b.get(&format!("/reports/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get(&format!("/reports/{id}.json")).await.status(),
        StatusCode::NOT_FOUND
    );
    let list = b.get("/reports").await.text().await.unwrap();
    assert!(!list.contains(&format!("/reports/{id}\"")), "{list}");
    let now = b.get("/reports/stale").await.text().await.unwrap();
    assert!(!now.contains("Cleanup report: Web"), "{now}");
}

#[tokio::test]
async fn two_replicas_on_one_database_keep_the_week_once() {
    let clock = Clock::at("2031-01-06T08:59:00Z");
    let app = TestApp::spawn_with_env(&[("SWITCHYARD_TEST_CLOCK_FILE", clock.file())]).await;
    let _replica = app.spawn_replica();
    let admin = app.admin();
    clock.set("2031-01-06T09:00:01Z");
    wait_for_reports(&admin.api, 1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(kept(&admin.api).await.len(), 1);
    let (_, audit) = json_of(&admin.api, "/api/admin/audit?action=report.generated").await;
    assert_eq!(audit["entries"].as_array().unwrap().len(), 1, "{audit}");
}

/// Screenshots of the report pages at desktop and phone widths, of a server given by
/// `SWITCHYARD_SCREENSHOT_BASE` (such as `serve --demo`), signed in as
/// `SWITCHYARD_SCREENSHOT_EMAIL` / `SWITCHYARD_SCREENSHOT_PASSWORD`; written to
/// target/screenshots. Run by hand: `cargo test --test it report_pages_screenshots -- --ignored`.
#[tokio::test]
#[ignore]
async fn report_pages_screenshots() {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let base = var("SWITCHYARD_SCREENSHOT_BASE");
    let chrome = crate::support::browser::Chrome::start(&base).await;
    chrome.goto("/login").await;
    chrome
        .fill("#email", &var("SWITCHYARD_SCREENSHOT_EMAIL"))
        .await;
    chrome
        .fill("#password", &var("SWITCHYARD_SCREENSHOT_PASSWORD"))
        .await;
    chrome
        .click("form[action='/login'] button[type='submit']")
        .await;
    chrome.wait_for("header.topnav nav").await;
    let report = var("SWITCHYARD_SCREENSHOT_REPORT");
    let flag = var("SWITCHYARD_SCREENSHOT_FLAG");
    for (w, h) in [(1440, 900), (390, 844)] {
        chrome.client.set_window_size(w, h).await.unwrap();
        for (name, path) in [
            ("reports", "/reports".to_string()),
            ("report", format!("/reports/{report}")),
            ("stale", "/reports/stale".to_string()),
            ("lifecycle", format!("{flag}?tab=lifecycle")),
            ("home", "/".to_string()),
        ] {
            chrome.goto(&path).await;
            chrome.wait_for("main").await;
            chrome.screenshot(&format!("reports-{name}-{w}")).await;
            if name == "report" || name == "lifecycle" {
                let down = "window.scrollTo(0, document.body.scrollHeight / 3)";
                chrome.client.execute(down, vec![]).await.unwrap();
                chrome
                    .screenshot(&format!("reports-{name}-{w}-lower"))
                    .await;
            }
        }
    }
    chrome.quit().await;
}
