//! The server's connection lifecycle and the feed's promptness (issue 11: items 5, 6, 8, 18, 19;
//! reliability plan L4, L5, L7, L12, G8).

use crate::support::{assert_success, TestApp, PROJECT};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn features_status(app: &TestApp, token: &str) -> u16 {
    reqwest::Client::new()
        .get(app.url("/api/client/features"))
        .header("Authorization", token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// An Unleash state file with `count` flags, each with a constrained rollout.
fn unleash_state(count: usize) -> Value {
    let features: Vec<Value> = (0..count)
        .map(|i| {
            json!({
                "name": format!("bulk-{i:05}"), "type": "release", "enabled": true,
                "strategies": [{
                    "name": "flexibleRollout",
                    "parameters": {"rollout": "50", "stickiness": "userId", "groupId": format!("bulk-{i:05}")},
                    "constraints": [{"contextName": "email", "operator": "STR_CONTAINS", "values": ["@corp.net"]}]
                }]
            })
        })
        .collect();
    json!({"version": 2, "features": features, "segments": []})
}

/// How long a token made with the CLI is refused by the feed.
async fn refused_for(app: &TestApp) -> Duration {
    let token = app.feed_token("client", PROJECT, "development");
    let start = Instant::now();
    while features_status(app, &token).await != 200 {
        assert!(start.elapsed() < Duration::from_secs(20), "never accepted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

#[tokio::test]
async fn a_token_created_with_the_cli_is_accepted_promptly_even_while_another_project_rebuilds() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        let waited = refused_for(&app).await;
        assert!(
            waited < Duration::from_millis(600),
            "refused for {waited:?}"
        );
    }
    // A large import into another project, then a token: the token must not wait for the
    // other project's rebuild.
    let file = app.dir().join("bulk.json");
    std::fs::write(&file, unleash_state(3000).to_string()).unwrap();
    for round in 0..2 {
        let key = format!("bulk{round}");
        assert_success(
            &app.cli(&["project", "create", "--key", &key]),
            "project create",
        );
        let out = app.cli(&[
            "import",
            "--project",
            &key,
            "--environment",
            "development",
            "--format",
            "unleash",
            file.to_str().unwrap(),
        ]);
        assert_success(&out, "import");
        let waited = refused_for(&app).await;
        assert!(
            waited < Duration::from_millis(600),
            "refused for {waited:?} after an import"
        );
    }
}

/// Reads what the feed serves for one environment, as a server-side and a browser SDK see it.
struct FeedReader {
    http: reqwest::Client,
    base: String,
    client: String,
    frontend: String,
}

impl FeedReader {
    /// Tokens made through the admin API (so they are live once the answer arrives).
    async fn new(app: &TestApp, admin: &crate::support::Api, env: &str) -> FeedReader {
        let mut secrets = Vec::new();
        for kind in ["client", "frontend"] {
            let body = json!({"type": kind, "environment": env, "name": format!("{kind}-{env}")});
            let r = admin.create_token(PROJECT, &body).await;
            assert_eq!(r.status(), 201);
            let v: Value = r.json().await.unwrap();
            secrets.push(v["secret"].as_str().unwrap().to_string());
        }
        let reader = FeedReader {
            http: reqwest::Client::new(),
            base: app.base.clone(),
            frontend: secrets.pop().unwrap(),
            client: secrets.pop().unwrap(),
        };
        let start = Instant::now();
        while reader
            .get("/api/client/features", &reader.client)
            .await
            .is_none()
            || reader
                .get("/api/frontend", &reader.frontend)
                .await
                .is_none()
        {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "tokens never live"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        reader
    }

    async fn get(&self, path: &str, token: &str) -> Option<Value> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("Authorization", token)
            .send()
            .await
            .unwrap();
        (r.status() == 200).then_some(r.json().await.unwrap())
    }

    /// Asserts, with one read of each API, that both serve `key` as `on`.
    async fn assert_serves(&self, key: &str, on: bool, after: &str) {
        let client = self
            .get("/api/client/features", &self.client)
            .await
            .unwrap();
        let served = client["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == key)
            .map(|f| f["enabled"] == true);
        assert_eq!(served, Some(on), "client API right after {after}");
        let frontend = self.get("/api/frontend", &self.frontend).await.unwrap();
        let shown = frontend["toggles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == key);
        assert_eq!(shown, on, "frontend API right after {after}");
    }
}

fn ok(status: reqwest::StatusCode, what: &str) {
    assert!(
        status.is_success() || status.is_redirection(),
        "{what}: {status}"
    );
}

#[tokio::test]
async fn switches_and_kills_are_served_by_the_time_they_are_answered() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "rw").await;
    let development = FeedReader::new(&app, &admin.api, "development").await;
    let staging = FeedReader::new(&app, &admin.api, "staging").await;
    let browser = app.signed_in(crate::support::ADMIN_EMAIL).await;
    let csrf = browser.csrf().await;
    let toggle = format!("/projects/{PROJECT}/flags/rw/environments/development/toggle");
    for i in 0..100 {
        let on = i % 2 == 0;
        let r = admin.api.toggle(PROJECT, "rw", "development", on).await;
        ok(r.status(), "API switch");
        development
            .assert_serves("rw", on, &format!("API switch {i}"))
            .await;

        let on = !on;
        let value = if on { "true" } else { "false" };
        let r = browser
            .post_form(&toggle, &[("on", value), ("csrf_token", &csrf)], &[])
            .await;
        ok(r.status(), "web switch");
        development
            .assert_serves("rw", on, &format!("web switch {i}"))
            .await;

        let r = admin.api.toggle(PROJECT, "rw", "staging", true).await;
        ok(r.status(), "switch on in staging");
        staging
            .assert_serves("rw", true, &format!("switch on {i}"))
            .await;
        let r = admin
            .api
            .kill(PROJECT, "rw", "staging", &json!({"reason": "errors"}))
            .await;
        ok(r.status(), "kill");
        staging
            .assert_serves("rw", false, &format!("kill {i}"))
            .await;
    }
}

#[tokio::test]
async fn an_applied_change_request_is_served_by_the_time_it_is_answered() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    let editor = app.user("editor");
    let approver = app.user("approver");
    admin.api.new_flag(PROJECT, "rw").await;
    let production = FeedReader::new(&app, &admin.api, "production").await;
    let step = |api: crate::support::Api, id: i64, verb: &'static str| async move {
        let body = json!({"title": "Switch", "reason": "read your writes"});
        let r = api.change_request_step(id, verb, Some(&body)).await;
        ok(r.status(), verb);
    };
    for i in 0..100 {
        let on = i % 2 == 0;
        let r = editor.api.toggle(PROJECT, "rw", "production", on).await;
        assert_eq!(r.status(), 202);
        let v: Value = r.json().await.unwrap();
        let id = v["changeRequest"]["id"].as_i64().unwrap();
        step(editor.api.clone(), id, "submit").await;
        step(approver.api.clone(), id, "approve").await;
        step(approver.api.clone(), id, "apply").await;
        production
            .assert_serves("rw", on, &format!("apply {i}"))
            .await;
    }
}

/// An SDK's `/api/client/streaming` connection, read past its hydration.
struct EventStream {
    res: reqwest::Response,
}

/// How a stream that was read to its end finished.
#[derive(Debug, PartialEq)]
enum StreamEnd {
    /// The server ended the response.
    Ended,
    /// The connection broke.
    Broken(String),
    /// Still open when we stopped reading.
    Open,
}

impl EventStream {
    async fn open(base: &str, token: &str) -> EventStream {
        let mut res = reqwest::Client::new()
            .get(format!("{base}/api/client/streaming"))
            .header("Authorization", token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "stream refused");
        let mut seen = String::new();
        while !seen.contains("unleash-connected") {
            let chunk = tokio::time::timeout(Duration::from_secs(10), res.chunk())
                .await
                .expect("no hydration within 10 s")
                .unwrap()
                .expect("the stream ended before its hydration");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        EventStream { res }
    }

    /// Reads until the stream ends or `limit` passes: what arrived, and how it finished.
    async fn rest(mut self, limit: Duration) -> (String, StreamEnd) {
        let deadline = tokio::time::Instant::now() + limit;
        let mut seen = String::new();
        loop {
            match tokio::time::timeout_at(deadline, self.res.chunk()).await {
                Err(_) => return (seen, StreamEnd::Open),
                Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Ok(None)) => return (seen, StreamEnd::Ended),
                Ok(Err(e)) => return (seen, StreamEnd::Broken(e.to_string())),
            }
        }
    }
}

async fn client_token(admin: &crate::support::Api, name: &str) -> (i64, String) {
    let body = json!({"type": "client", "environment": "development", "name": name});
    let r = admin.create_token(PROJECT, &body).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    (
        v["token"]["id"].as_i64().unwrap(),
        v["secret"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn revoking_a_token_ends_its_streams_before_any_later_change() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "watched").await;
    let browser = app.signed_in(crate::support::ADMIN_EMAIL).await;
    let csrf = browser.csrf().await;
    let replica = app.spawn_replica();
    let replica_admin = crate::support::Api {
        base: replica.base.clone(),
        ..admin.api.clone()
    };
    for (round, how) in ["admin API", "web", "another process"].iter().enumerate() {
        let (id, secret) = client_token(&admin.api, &format!("sdk-{round}")).await;
        let streams = [
            EventStream::open(&app.base, &secret).await,
            EventStream::open(&app.base, &secret).await,
        ];
        let status = match *how {
            "admin API" => admin.api.revoke_token(PROJECT, id).await.status(),
            "web" => {
                let path = format!("/projects/{PROJECT}/tokens/{id}/revoke");
                browser
                    .post_form(&path, &[("csrf_token", &csrf)], &[])
                    .await
                    .status()
            }
            _ => replica_admin.revoke_token(PROJECT, id).await.status(),
        };
        ok(status, how);
        // The change comes after the revocation's answer: no stream of the token may see it.
        let r = admin
            .api
            .toggle(PROJECT, "watched", "development", round % 2 == 0)
            .await;
        ok(r.status(), "switch");
        for stream in streams {
            let (rest, end) = stream.rest(Duration::from_secs(3)).await;
            assert_eq!(end, StreamEnd::Ended, "revoked by {how}; received: {rest}");
            assert!(
                !rest.contains("unleash-updated"),
                "revoked by {how}, yet the change arrived: {rest}"
            );
        }
        assert_eq!(features_status(&app, &secret).await, 401, "{how}");
    }
}
