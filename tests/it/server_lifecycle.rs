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
