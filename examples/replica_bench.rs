//! Admin writes per second and change-to-stream latency across replicas (used by
//! `bench/writes.sh`). Prints one JSON object with the figures (times in ms).
//!
//! `replica_bench writes --base URL --admin-token A --project P --environment E --flags F1,F2,..
//!  --concurrency N --seconds S`: N workers, each switching its own flag (the N-th of `--flags`)
//! on and off through the admin API for S seconds, one request after the other.
//!
//! `replica_bench latency --writer URL --readers URL,URL --client-token T --admin-token A
//!  --project P --environment E --flag F [--rounds N]`: an SDK stream on each reader, then N
//! switches of one flag (alone in its project) through the writer; for each, the time from
//! sending the admin request until each reader's stream has the `unleash-updated` event with
//! the flag's new state.

#[path = "common/sse.rs"]
mod sse;

use sse::Events;
use std::collections::HashMap;
use std::time::{Duration, Instant};

fn usage() -> ! {
    eprintln!(
        "usage: replica_bench writes --base URL --admin-token A --project P --environment E \
         --flags F1,F2 --concurrency N --seconds S\n       replica_bench latency --writer URL \
         --readers URL,URL --client-token T --admin-token A --project P --environment E \
         --flag F [--rounds N]"
    );
    std::process::exit(2)
}

/// `--name value` pairs after the mode.
fn options() -> (String, HashMap<String, String>) {
    let mut it = std::env::args().skip(1);
    let mode = it.next().unwrap_or_else(|| usage());
    let mut opts = HashMap::new();
    while let Some(k) = it.next() {
        let Some(name) = k.strip_prefix("--") else {
            usage()
        };
        opts.insert(name.to_string(), it.next().unwrap_or_else(|| usage()));
    }
    (mode, opts)
}

fn get<'a>(opts: &'a HashMap<String, String>, name: &str) -> &'a str {
    opts.get(name).map(String::as_str).unwrap_or_else(|| {
        eprintln!("missing --{name}");
        usage()
    })
}

fn number(opts: &HashMap<String, String>, name: &str, default: usize) -> usize {
    opts.get(name)
        .map(|v| v.parse().unwrap_or_else(|_| usage()))
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    Some(sorted[i])
}

fn summary(mut ms: Vec<f64>) -> serde_json::Value {
    ms.sort_by(f64::total_cmp);
    serde_json::json!({
        "n": ms.len(),
        "p50": percentile(&ms, 0.5),
        "p99": percentile(&ms, 0.99),
        "max": ms.last(),
    })
}

/// The admin API's switch of `flag` in one environment.
struct Switch {
    http: reqwest::Client,
    base: String,
    admin_token: String,
    project: String,
    environment: String,
}

impl Switch {
    async fn set(&self, flag: &str, on: bool) -> anyhow::Result<()> {
        let url = format!(
            "{}/api/admin/projects/{}/flags/{flag}/environments/{}/{}",
            self.base,
            self.project,
            self.environment,
            if on { "on" } else { "off" }
        );
        self.http
            .post(&url)
            .header("Authorization", format!("Bearer {}", self.admin_token))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }
}

fn switch(opts: &HashMap<String, String>, base: &str) -> Switch {
    Switch {
        http: reqwest::Client::new(),
        base: base.to_string(),
        admin_token: get(opts, "admin-token").to_string(),
        project: get(opts, "project").to_string(),
        environment: get(opts, "environment").to_string(),
    }
}

async fn writes(opts: HashMap<String, String>) -> anyhow::Result<serde_json::Value> {
    let flags: Vec<String> = get(&opts, "flags").split(',').map(str::to_string).collect();
    let concurrency = number(&opts, "concurrency", 1);
    let seconds = number(&opts, "seconds", 10);
    anyhow::ensure!(
        flags.len() >= concurrency,
        "one flag per worker: {concurrency} workers, {} flags",
        flags.len()
    );
    let switch = std::sync::Arc::new(switch(&opts, get(&opts, "base")));
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds as u64);
    let mut workers = tokio::task::JoinSet::new();
    for flag in flags.into_iter().take(concurrency) {
        let switch = switch.clone();
        workers.spawn(async move {
            let (mut times, mut errors, mut on) = (Vec::new(), 0usize, true);
            while Instant::now() < until {
                let t0 = Instant::now();
                match switch.set(&flag, on).await {
                    Ok(()) => times.push(t0.elapsed().as_secs_f64() * 1e3),
                    Err(_) => errors += 1,
                }
                on = !on;
            }
            (times, errors)
        });
    }
    let (mut times, mut errors) = (Vec::new(), 0);
    while let Some(w) = workers.join_next().await {
        let (t, e) = w?;
        times.extend(t);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(serde_json::json!({
        "concurrency": concurrency,
        "seconds": elapsed,
        "writes": times.len(),
        "errors": errors,
        "per_second": times.len() as f64 / elapsed,
        "latency_ms": summary(times),
    }))
}

async fn latency(opts: HashMap<String, String>) -> anyhow::Result<serde_json::Value> {
    let readers: Vec<String> = get(&opts, "readers")
        .split(',')
        .map(str::to_string)
        .collect();
    let token = get(&opts, "client-token");
    let flag = get(&opts, "flag").to_string();
    let rounds = number(&opts, "rounds", 50);
    let writer = switch(&opts, get(&opts, "writer"));
    let mut streams = Vec::new();
    for r in &readers {
        streams.push(Events::open(r, token).await?.0);
    }
    let mut per_reader = vec![Vec::new(); readers.len()];
    let (mut all, mut admin, mut missed) = (Vec::new(), Vec::new(), 0usize);
    let mut on = true;
    for _ in 0..rounds {
        let t0 = Instant::now();
        writer.set(&flag, on).await?;
        admin.push(t0.elapsed().as_secs_f64() * 1e3);
        let deadline = t0 + Duration::from_secs(5);
        // Every stream is read at once, so one slow reader does not delay the others' times.
        let seen = futures_util::future::join_all(
            streams
                .iter_mut()
                .map(|s| update_of(s, &flag, on, deadline)),
        )
        .await;
        let mut last = 0.0f64;
        for (i, at) in seen.into_iter().enumerate() {
            match at {
                Some(at) => {
                    let ms = at.duration_since(t0).as_secs_f64() * 1e3;
                    per_reader[i].push(ms);
                    last = last.max(ms);
                }
                None => missed += 1,
            }
        }
        all.push(last);
        on = !on;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let readers_json: serde_json::Map<String, serde_json::Value> = readers
        .iter()
        .zip(per_reader)
        .map(|(r, ms)| (r.clone(), summary(ms)))
        .collect();
    Ok(serde_json::json!({
        "rounds": rounds,
        "missed": missed,
        "admin_request_ms": summary(admin),
        "every_reader_ms": summary(all),
        "per_reader_ms": readers_json,
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (mode, opts) = options();
    let out = match mode.as_str() {
        "writes" => writes(opts).await?,
        "latency" => latency(opts).await?,
        _ => usage(),
    };
    println!("{out}");
    Ok(())
}

/// When `events` carried the update that switched `flag` to `on`; None past the deadline.
async fn update_of(
    events: &mut Events,
    flag: &str,
    on: bool,
    deadline: Instant,
) -> Option<Instant> {
    let name = format!("\"name\":\"{flag}\"");
    let enabled = format!("\"enabled\":{on}");
    loop {
        match events.next(deadline).await {
            Ok((kind, data))
                if kind == "unleash-updated" && data.contains(&name) && data.contains(&enabled) =>
            {
                return Some(Instant::now())
            }
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}
