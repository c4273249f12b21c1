//! No context, however odd, makes the feed fail: strange shapes get a 400 with the protocol's
//! error, everything else an answer — never a 5xx, never a hang.

use crate::support::{bench_features, TestApp, PROJECT};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A small deterministic generator (xorshift), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

fn odd_value(rng: &mut Rng, depth: u32) -> Value {
    let strings = [
        "",
        " ",
        "ü",
        "😀",
        "\u{0}",
        "\u{202e}rtl",
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        "1.0.0-alpha",
        "2026-01-01T00:00:00Z",
        "not-a-date",
        "999999999999999999999999",
        "-0",
        "NaN",
        "::1",
        "10.0.0.0/8",
        "\\",
        "\"quoted\"",
    ];
    match rng.next() % 9 {
        0 => Value::Null,
        1 => json!(rng.next().is_multiple_of(2)),
        2 => json!(rng.next() as i64),
        3 => json!(f64::from_bits(rng.next() >> 2)),
        4 => json!(rng.pick(&strings)),
        5 => json!("x".repeat((rng.next() % 100_000) as usize)),
        6 if depth < 8 => Value::Array(
            (0..rng.next() % 4)
                .map(|_| odd_value(rng, depth + 1))
                .collect(),
        ),
        7 if depth < 8 => {
            let mut m = serde_json::Map::new();
            for i in 0..rng.next() % 4 {
                m.insert(format!("k{i}"), odd_value(rng, depth + 1));
            }
            Value::Object(m)
        }
        _ => json!(rng.pick(&strings)),
    }
}

fn odd_context(rng: &mut Rng) -> Value {
    let keys = [
        "userId",
        "sessionId",
        "remoteAddress",
        "environment",
        "appName",
        "currentTime",
        "properties",
        "targetingKey",
        "country",
        "version",
        "email",
        "",
    ];
    let mut ctx = serde_json::Map::new();
    for _ in 0..rng.next() % 8 {
        ctx.insert(rng.pick(&keys).to_string(), odd_value(rng, 0));
    }
    Value::Object(ctx)
}

#[tokio::test]
async fn odd_contexts_never_cause_a_server_error() {
    let app = TestApp::spawn().await;
    let out = app.import_unleash(PROJECT, "development", &bench_features());
    crate::support::assert_success(&out, "import");
    let frontend = app.feed_token("frontend", PROJECT, "development");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while http
        .get(app.url("/api/frontend"))
        .header("Authorization", &frontend)
        .send()
        .await
        .unwrap()
        .status()
        != 200
    {
        assert!(
            Instant::now() < deadline,
            "the frontend token never became valid"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..300 {
        let ctx = odd_context(&mut rng);
        let (path, body) = match i % 4 {
            0 => ("/api/frontend".to_string(), json!({ "context": ctx })),
            1 => ("/api/frontend".to_string(), ctx.clone()),
            2 => (
                "/ofrep/v1/evaluate/flags".to_string(),
                json!({ "context": ctx }),
            ),
            _ => (
                "/ofrep/v1/evaluate/flags/profile-experiment-0000".to_string(),
                json!({ "context": ctx }),
            ),
        };
        let r = http
            .post(app.url(&path))
            .header("Authorization", format!("Bearer {frontend}"))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("request {i} to {path} failed: {e}"));
        let status = r.status().as_u16();
        *statuses.entry(status).or_insert(0) += 1;
        assert!(
            status < 500,
            "request {i} to {path} answered {status} for {body}"
        );
    }
    // Malformed bodies: 400 with the protocol's error code.
    for raw in ["{", "[]", "\"text\"", "{\"context\": 5}", "\u{ff}"] {
        let r = http
            .post(app.url("/ofrep/v1/evaluate/flags/x"))
            .header("Authorization", format!("Bearer {frontend}"))
            .header("Content-Type", "application/json")
            .body(raw.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{raw:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["key"], "x");
        assert!(
            body["errorCode"].is_string() && body["errorDetails"].is_string(),
            "{body}"
        );
    }
    assert!(
        statuses.get(&200).copied().unwrap_or(0) > 100,
        "{statuses:?}"
    );
}
