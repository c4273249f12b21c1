//! How long a change takes to reach SDKs on `/api/client/streaming` (used by `bench/run.sh`).
//!
//! Connects to the stream with a client token, waits for the hydration, then switches one flag
//! off and on through the admin API, `--rounds` times, and measures from just before each admin
//! request is sent to the arrival of the `unleash-updated` event that names the flag.
//!
//! `stream_latency --base http://127.0.0.1:8080 --client-token T --admin-token A --project P
//!  --environment E --flag F [--rounds 20]` prints one JSON object with the figures in ms.

#[path = "common/sse.rs"]
mod sse;

use sse::Events;
use std::time::{Duration, Instant};

struct Args {
    base: String,
    client_token: String,
    admin_token: String,
    project: String,
    environment: String,
    flag: String,
    rounds: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: stream_latency --base URL --client-token T --admin-token A --project P \
         --environment E --flag F [--rounds N]"
    );
    std::process::exit(2)
}

fn args() -> Args {
    let mut a = Args {
        base: String::new(),
        client_token: String::new(),
        admin_token: String::new(),
        project: String::new(),
        environment: String::new(),
        flag: String::new(),
        rounds: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| usage());
        match k.as_str() {
            "--base" => a.base = v,
            "--client-token" => a.client_token = v,
            "--admin-token" => a.admin_token = v,
            "--project" => a.project = v,
            "--environment" => a.environment = v,
            "--flag" => a.flag = v,
            "--rounds" => a.rounds = v.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    if a.base.is_empty()
        || a.client_token.is_empty()
        || a.admin_token.is_empty()
        || a.flag.is_empty()
    {
        usage()
    }
    a
}

fn enabled_in_hydration(data: &str, flag: &str) -> anyhow::Result<bool> {
    let v: serde_json::Value = serde_json::from_str(data)?;
    let features = v["events"][0]["features"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("the hydration has no features"))?;
    features
        .iter()
        .find(|f| f["name"] == flag)
        .and_then(|f| f["enabled"].as_bool())
        .ok_or_else(|| anyhow::anyhow!("{flag} is not in the hydration"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args();
    let http = reqwest::Client::new();
    let connected = Instant::now();
    let (mut events, data) = Events::open(&a.base, &a.client_token).await?;
    let hydration_ms = connected.elapsed().as_secs_f64() * 1e3;
    let mut on = enabled_in_hydration(&data, &a.flag)?;

    let mut visible = Vec::new();
    let mut admin = Vec::new();
    let mut missed = 0;
    for _ in 0..a.rounds {
        on = !on;
        let url = format!(
            "{}/api/admin/projects/{}/flags/{}/environments/{}/{}",
            a.base,
            a.project,
            a.flag,
            a.environment,
            if on { "on" } else { "off" }
        );
        let t0 = Instant::now();
        http.post(&url)
            .header("Authorization", format!("Bearer {}", a.admin_token))
            .send()
            .await?
            .error_for_status()?;
        admin.push(t0.elapsed().as_secs_f64() * 1e3);
        let deadline = t0 + Duration::from_secs(5);
        loop {
            match events.next(deadline).await {
                Ok((kind, data)) if kind == "unleash-updated" && data.contains(&a.flag) => {
                    visible.push(t0.elapsed().as_secs_f64() * 1e3);
                    break;
                }
                Ok(_) => continue,
                Err(_) => {
                    missed += 1;
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    visible.sort_by(f64::total_cmp);
    admin.sort_by(f64::total_cmp);
    let out = serde_json::json!({
        "rounds": a.rounds,
        "missed": missed,
        "hydration_ms": hydration_ms,
        "visible_ms": {
            "min": visible.first(), "p50": percentile(&visible, 0.5),
            "p90": percentile(&visible, 0.9), "max": visible.last(),
        },
        "admin_request_ms": { "p50": percentile(&admin, 0.5), "max": admin.last() },
    });
    println!("{out}");
    Ok(())
}
