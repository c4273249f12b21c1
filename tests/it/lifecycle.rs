//! The flag lifecycle over HTTP (issue 12): stages with their history, stale reasons with
//! evidence from real SDK reports on a test clock, snoozes, completion, the assessment job
//! feeding the SDK feed's `stale` field and the `flag.stale` webhook.

use crate::support::{Api, TestApp, ADMIN_EMAIL, PROJECT};
use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;

struct Clock {
    _dir: tempfile::TempDir,
    path: PathBuf,
    start: DateTime<Utc>,
}

impl Clock {
    fn new() -> Clock {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("now");
        let start = crate::support::parse_time("2026-03-02T09:00:00Z");
        std::fs::write(&path, start.to_rfc3339()).unwrap();
        Clock {
            _dir: dir,
            path,
            start,
        }
    }

    fn day(&self, n: i64) -> DateTime<Utc> {
        self.start + Duration::days(n)
    }

    fn set_day(&self, n: i64) {
        std::fs::write(&self.path, self.day(n).to_rfc3339()).unwrap();
    }
}

async fn spawn(clock: &Clock) -> TestApp {
    TestApp::spawn_with_env(&[
        ("SWITCHYARD_TEST_CLOCK_FILE", clock.path.to_str().unwrap()),
        ("SWITCHYARD_LIFECYCLE_INTERVAL_SECONDS", "1"),
        ("SWITCHYARD_WEBHOOK_ALLOW_HOSTS", "127.0.0.1:9"),
    ])
    .await
}

async fn flag(api: &Api, key: &str) -> Value {
    api.flag_json(PROJECT, key).await["flag"].clone()
}

fn codes(flag: &Value) -> Vec<String> {
    flag["staleReasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect()
}

fn stages(flag: &Value) -> Vec<String> {
    flag["lifecycle"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap().to_string())
        .collect()
}

async fn send(api: &Api, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let r = api.send(method, path, body.as_ref()).await;
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn stages_follow_the_history_and_completion_is_an_owners_mark() {
    let clock = Clock::new();
    let app = spawn(&clock).await;
    let admin = app.admin();
    let editor = app.user("editor");
    admin.api.new_flag(PROJECT, "new-cart").await;
    assert_eq!(
        flag(&admin.api, "new-cart").await["lifecycle"]["stage"],
        "initial"
    );
    clock.set_day(2);
    editor
        .api
        .toggle(PROJECT, "new-cart", "development", true)
        .await;
    clock.set_day(5);
    admin
        .api
        .force_toggle(PROJECT, "new-cart", "production", true)
        .await;
    clock.set_day(9);
    let f = flag(&editor.api, "new-cart").await;
    assert_eq!(f["lifecycleStage"], "live");
    assert_eq!(stages(&f), ["initial", "pre-live", "live"]);
    let spans = f["lifecycle"]["stages"].as_array().unwrap();
    assert_eq!(spans[0]["days"], 2);
    assert_eq!(spans[1]["days"], 3);
    assert_eq!(spans[2]["days"], 4);
    assert_eq!(f["lifecycle"]["enteredAt"], spans[2]["enteredAt"]);

    let path = format!("/api/admin/projects/{PROJECT}/flags/new-cart/complete");
    let (status, body) = send(
        &editor.api,
        Method::POST,
        &path,
        Some(json!({"outcome": "maybe"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let done = json!({"outcome": "kept", "variant": "new", "note": "shipped in 4.2"});
    let (status, body) = send(&editor.api, Method::POST, &path, Some(done)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["flag"]["lifecycleStage"], "completed");
    assert_eq!(body["flag"]["lifecycle"]["completion"]["outcome"], "kept");
    assert_eq!(body["flag"]["lifecycle"]["completion"]["variant"], "new");
    let viewer = app.user("viewer");
    let (status, _) = send(&viewer.api, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = send(&editor.api, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["flag"]["lifecycleStage"], "live");
    assert_eq!(
        stages(&body["flag"]),
        ["initial", "pre-live", "live", "completed", "live"]
    );
    let (status, _) = send(&editor.api, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "not completed any more");
}

async fn register(app: &TestApp, token: &str) {
    let r = reqwest::Client::new()
        .post(app.url("/api/client/register"))
        .header("Authorization", token)
        .json(
            &json!({"appName": "shop", "instanceId": "i-1", "sdkVersion": "unleash-node-sdk:6.1.0",
            "strategies": [], "started": "2026-03-02T09:00:00Z", "interval": 15000}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
}

async fn evaluated(app: &TestApp, token: &str, key: &str, at: DateTime<Utc>) {
    let start = at.format("%Y-%m-%dT%H:00:00Z").to_string();
    let r = reqwest::Client::new()
        .post(app.url("/api/client/metrics"))
        .header("Authorization", token)
        .json(&json!({"appName": "shop", "instanceId": "i-1", "bucket": {
            "start": start, "stop": start, "toggles": {key: {"yes": 3, "no": 1}}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
}

/// Polls until `check` holds (the usage writer and the assessment job run in the background).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn feed_stale(app: &TestApp, token: &str, key: &str) -> Option<bool> {
    let r = reqwest::Client::new()
        .get(app.url("/api/client/features"))
        .header("Authorization", token)
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    body["features"]
        .as_array()?
        .iter()
        .find(|f| f["name"] == key)
        .and_then(|f| f["stale"].as_bool())
}

#[tokio::test]
async fn unused_only_while_sdks_were_connected_then_stale_in_the_feed_and_once_to_webhooks() {
    let clock = Clock::new();
    let app = spawn(&clock).await;
    let admin = app.admin();
    let owned = |key: &str| json!({"key": key, "owner": ADMIN_EMAIL});
    for key in ["used", "forgotten"] {
        let r = admin.api.create_flag(PROJECT, &owned(key)).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        admin.api.toggle(PROJECT, key, "development", true).await;
    }
    let hook =
        json!({"url": "http://127.0.0.1:9/hook", "format": "generic", "events": ["flag.stale"]});
    let r = admin.api.add_webhook(PROJECT, &hook).await;
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap()
    );
    let dev = app.feed_token("client", PROJECT, "development");
    eventually("the token reaches the feed", || async {
        feed_stale(&app, &dev, "used").await.is_some()
    })
    .await;
    register(&app, &dev).await;

    // Nothing is unused before SDKs watched a whole window.
    clock.set_day(25);
    evaluated(&app, &dev, "used", clock.day(25)).await;
    assert!(!codes(&flag(&admin.api, "forgotten").await).contains(&"unused".to_string()));
    clock.set_day(31);
    register(&app, &dev).await;
    eventually("the SDK's last report is recorded", || async {
        codes(&flag(&admin.api, "forgotten").await).contains(&"unused".to_string())
    })
    .await;
    let f = flag(&admin.api, "forgotten").await;
    let unused = f["staleReasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "unused")
        .unwrap()
        .clone();
    assert_eq!(unused["evidence"]["windowDays"], 30);
    let env = &unused["evidence"]["environments"][0];
    assert_eq!(env["environment"], "development");
    assert_eq!(env["apps"], json!(["shop"]));
    assert_eq!(env["lastEvaluatedAt"], Value::Null);
    assert!(
        codes(&flag(&admin.api, "used").await).is_empty(),
        "evaluated on day 25"
    );

    // The job stores it: the SDK feed says stale, and webhooks hear it once.
    eventually("the feed serves stale", || async {
        feed_stale(&app, &dev, "forgotten").await == Some(true)
    })
    .await;
    assert_eq!(feed_stale(&app, &dev, "used").await, Some(false));
    // The catalog filters by what the assessment stored, and names the reasons.
    for (query, keys) in [
        ("stale=true", vec!["forgotten"]),
        ("reason=unused", vec!["forgotten"]),
        ("reason=no-owner", vec![]),
        ("stale=false", vec!["used"]),
        ("stage=pre-live&stale=true", vec!["forgotten"]),
        ("lifecycle=live", vec![]),
    ] {
        let listed: Value = admin.api.flags(PROJECT, query).await.json().await.unwrap();
        let got: Vec<&str> = listed["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["key"].as_str().unwrap())
            .collect();
        assert_eq!(got, keys, "?{query}");
        if query == "stale=true" {
            assert_eq!(listed["flags"][0]["staleReasons"][0]["code"], "unused");
            assert_eq!(listed["flags"][0]["lifecycleStage"], "pre-live");
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let mut sql = app.sql().await;
    let announced: Vec<String> =
        switchyard::db::query_scalar("select body from webhook_outbox where event = 'flag.stale'")
            .fetch_all(&mut sql)
            .await
            .unwrap();
    assert_eq!(announced.len(), 1, "{announced:?}");
    assert!(announced[0].contains("forgotten"));
    let audited = admin.api.audit("action=flag.became-stale").await;
    let audited: Value = audited.json().await.unwrap();
    assert_eq!(audited["entries"].as_array().unwrap().len(), 1);

    // A snooze hides it until its date, and not after.
    let path = format!("/api/admin/projects/{PROJECT}/flags/forgotten/snooze");
    let (status, body) = send(
        &admin.api,
        Method::POST,
        &path,
        Some(json!({"until": "2026-03-01", "reason": "x"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a date in the past: {body}"
    );
    let until = clock.day(40).format("%Y-%m-%d").to_string();
    let snooze = json!({"until": until, "reason": "needed for the spring sale"});
    let (status, body) = send(&admin.api, Method::POST, &path, Some(snooze)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(codes(&body["flag"]).is_empty());
    assert_eq!(
        body["flag"]["lifecycle"]["snooze"]["reason"],
        "needed for the spring sale"
    );
    eventually("the feed no longer serves stale", || async {
        feed_stale(&app, &dev, "forgotten").await == Some(false)
    })
    .await;
    clock.set_day(41);
    assert!(codes(&flag(&admin.api, "forgotten").await).contains(&"unused".to_string()));
}

#[tokio::test]
async fn no_sdk_data_is_never_unused_and_thresholds_are_the_projects() {
    let clock = Clock::new();
    let app = spawn(&clock).await;
    let admin = app.admin();
    let r = admin
        .api
        .create_flag(PROJECT, &json!({"key": "quiet", "owner": ADMIN_EMAIL}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    admin
        .api
        .toggle(PROJECT, "quiet", "development", true)
        .await;
    clock.set_day(39);
    assert!(
        codes(&flag(&admin.api, "quiet").await).is_empty(),
        "no SDK ever reported"
    );

    let path = format!("/api/admin/projects/{PROJECT}/lifecycle");
    let (status, body) = send(&admin.api, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["lifecycle"]["graceDays"], 7);
    let (status, body) = send(&admin.api, Method::PUT, &path, Some(json!({"offDays": 0}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "offDays", "{body}");
    let editor = app.user("editor");
    let (status, _) = send(&editor.api, Method::PUT, &path, Some(json!({"offDays": 5}))).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "project settings are the owners'"
    );

    // Past its type's lifetime (release: 40 days), unless it has its own.
    clock.set_day(41);
    assert_eq!(
        codes(&flag(&admin.api, "quiet").await),
        ["past-expected-lifetime"]
    );
    let own = format!("/api/admin/projects/{PROJECT}/flags/quiet/lifecycle");
    let (status, body) = send(
        &admin.api,
        Method::PUT,
        &own,
        Some(json!({"expectedLifetimeDays": 90})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(codes(&body["flag"]).is_empty());
    let (_, body) = send(
        &admin.api,
        Method::PUT,
        &own,
        Some(json!({"permanent": true})),
    )
    .await;
    clock.set_day(400);
    assert!(codes(&body["flag"]).is_empty());
    assert!(
        codes(&flag(&admin.api, "quiet").await).is_empty(),
        "permanent flags are never stale"
    );
}

#[tokio::test]
async fn a_flag_no_scanned_repository_mentions_is_stale_with_the_scans_as_evidence() {
    let clock = Clock::new();
    let app = spawn(&clock).await;
    let admin = app.admin();
    for key in ["in-code", "gone-from-code"] {
        let r = admin
            .api
            .create_flag(PROJECT, &json!({"key": key, "owner": ADMIN_EMAIL}))
            .await;
        assert_eq!(r.status(), StatusCode::CREATED);
        admin.api.toggle(PROJECT, key, "development", true).await;
    }
    clock.set_day(10);
    assert!(
        codes(&flag(&admin.api, "gone-from-code").await).is_empty(),
        "never scanned"
    );
    let tree = tempfile::tempdir().unwrap();
    let repo = tree.path().join("shop");
    std::fs::create_dir_all(repo.join("src")).unwrap();
    std::fs::write(
        repo.join("src/cart.js"),
        "if (unleash.isEnabled('in-code')) { cart() }\n",
    )
    .unwrap();
    let out = app.cli(&["scan", "--project", PROJECT, repo.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(codes(&flag(&admin.api, "in-code").await).is_empty());
    let f = flag(&admin.api, "gone-from-code").await;
    assert_eq!(codes(&f), ["no-code-references"]);
    let scans = &f["staleReasons"][0]["evidence"]["scans"];
    assert_eq!(scans[0]["repository"], "shop", "{f}");
    assert_eq!(scans[0]["references"], 0);
}

/// The flag page's Lifecycle tab: stages, reasons with evidence, and the owner's marks through
/// the forms, with bad input answered on the tab and nothing changed.
#[tokio::test]
async fn the_lifecycle_tab_shows_stages_reasons_and_takes_the_owners_marks() {
    let clock = Clock::new();
    let app = spawn(&clock).await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "orphan").await;
    clock.set_day(8);
    let browser = app.signed_in(ADMIN_EMAIL).await;
    let tab = format!("/projects/{PROJECT}/flags/orphan?tab=lifecycle");
    let html = browser.get(&tab).await.text().await.unwrap();
    assert!(html.contains("Nobody owns it"), "{html}");
    assert!(html.contains("initial"));
    let csrf = crate::support::meta_csrf(&html).unwrap();
    let snooze = format!("/projects/{PROJECT}/flags/orphan/snooze");
    let r = browser
        .post_form(
            &snooze,
            &[
                ("csrf_token", &csrf),
                ("until", "yesterday"),
                ("reason", ""),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = browser.get(&tab).await.text().await.unwrap();
    assert!(
        html.contains("give a date like"),
        "the error comes back on the tab: {html}"
    );
    assert!(codes(&flag(&admin.api, "orphan").await).contains(&"no-owner".to_string()));
    let until = clock.day(20).format("%Y-%m-%d").to_string();
    let r = browser
        .post_form(
            &snooze,
            &[
                ("csrf_token", &csrf),
                ("until", &until),
                ("reason", "owner on leave"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = browser.get(&tab).await.text().await.unwrap();
    assert!(html.contains("owner on leave"), "{html}");
    assert!(codes(&flag(&admin.api, "orphan").await).is_empty());
    let page = browser
        .get(&format!("/projects/{PROJECT}/flags/orphan"))
        .await
        .text()
        .await
        .unwrap();
    let header = &page[..page.find("<nav class=\"tabs\"").unwrap()];
    assert!(
        header.contains("snoozed until"),
        "beside the badges: {header}"
    );
    let complete = format!("/projects/{PROJECT}/flags/orphan/complete");
    let r = browser
        .post_form(
            &complete,
            &[
                ("csrf_token", &csrf),
                ("outcome", "discarded"),
                ("variant", ""),
                ("note", "never shipped"),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let f = flag(&admin.api, "orphan").await;
    assert_eq!(f["lifecycleStage"], "completed");
    let html = browser.get(&tab).await.text().await.unwrap();
    assert!(
        html.contains("discarded") && html.contains("never shipped"),
        "{html}"
    );
    let viewer = app.user("viewer");
    let html = app
        .signed_in(&viewer.email)
        .await
        .get(&tab)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("never shipped"),
        "a viewer reads the tab: {html}"
    );
    assert!(
        !html.contains("/reopen") && !html.contains("/snooze"),
        "but gets no forms: {html}"
    );
}

/// The project settings page sets the stale thresholds: a value out of range or not a number
/// comes back by its field with what was typed, and nothing is saved; a good form is saved and
/// audited once, and the API reads it back.
#[tokio::test]
async fn the_settings_form_sets_the_stale_thresholds_and_names_bad_ones() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let b = app.signed_in(ADMIN_EMAIL).await;
    let csrf = b.csrf().await;
    let settings = format!("/projects/{PROJECT}/settings");
    let html = b.get(&settings).await.text().await.unwrap();
    assert!(
        html.contains("name=\"offDays\"") && html.contains("value=\"30\""),
        "{html}"
    );
    let form = |off: &'static str, unused: &'static str| {
        vec![
            ("name", "Web"),
            ("description", ""),
            ("key_pattern", ""),
            ("key_example", ""),
            ("graceDays", "7"),
            ("unusedDays", unused),
            ("fullyRolledOutDays", "14"),
            ("offDays", off),
            ("retirementQuietDays", "7"),
        ]
    };
    let before = app.audit_count().await;
    let mut bad = form("400", "a month");
    bad.push(("csrf_token", &csrf));
    let r = b.post_form(&settings, &bad, &[]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("give a whole number of days"), "{html}");
    assert!(
        html.contains("value=\"a month\""),
        "what was typed stays: {html}"
    );
    let mut out_of_range = form("400", "30");
    out_of_range.push(("csrf_token", &csrf));
    let r = b.post_form(&settings, &out_of_range, &[]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("from 1 to 365"), "{html}");
    assert_eq!(app.audit_count().await, before, "nothing saved");

    let mut good = form("45", "30");
    good.push(("csrf_token", &csrf));
    let r = b.post_form(&settings, &good, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.audit_count().await,
        before + 1,
        "one entry: the thresholds"
    );
    let path = format!("/api/admin/projects/{PROJECT}/lifecycle");
    let (status, body) = send(&admin.api, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["lifecycle"]["offDays"], 45, "{body}");
    let r = b.post_form(&settings, &good, &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.audit_count().await, before + 1, "unchanged: no entry");
}
