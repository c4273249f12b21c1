//! The background deliverer: every second it sends the due outbox rows (concurrently, each with
//! a 5-second timeout), marks a 2xx delivered, and otherwise schedules the next attempt with
//! exponential backoff, giving up after [`MAX_ATTEMPTS`] with the last error kept. Each
//! webhook gets its events in order: a delivery waiting for a retry holds back the later ones. It only reads
//! and updates the outbox, so a slow or failing endpoint never holds up the workflow.

use super::payload::{render, Format, Payload};
use super::sign;
use super::store::{self, DueRow};
use crate::clock::{stamp, SharedClock};
use crate::db::Db;
use chrono::{DateTime, Utc};
use std::time::Duration;

pub const TICK: Duration = Duration::from_secs(1);
pub const TIMEOUT: Duration = Duration::from_secs(5);
pub const MAX_ATTEMPTS: i64 = 8;
/// Rows sent per tick at most.
const BATCH: i64 = 32;

/// Multiples of the backoff base after the 1st, 2nd, ... failed attempt; the last repeats.
/// With the default base of 5 s: 5 s, 30 s, 2 min, 10 min, 1 h.
const STEPS: [u64; 5] = [1, 6, 24, 120, 720];
pub const DEFAULT_BASE: Duration = Duration::from_secs(5);

/// Overrides the backoff base in milliseconds (tests).
pub const BACKOFF_ENV: &str = "SWITCHYARD_WEBHOOK_BACKOFF_MS";
/// The server's public base URL, for links in webhook bodies (such as https://flags.example.com).
pub const PUBLIC_URL_ENV: &str = "SWITCHYARD_PUBLIC_URL";

#[derive(Debug, Clone)]
pub struct Config {
    pub backoff_base: Duration,
    pub public_url: Option<String>,
}

impl Config {
    pub fn from_env() -> Config {
        let backoff_base = std::env::var(BACKOFF_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_BASE);
        let public_url = std::env::var(PUBLIC_URL_ENV)
            .ok()
            .map(|v| v.trim().trim_end_matches('/').to_string())
            .filter(|v| v.starts_with("http://") || v.starts_with("https://"));
        Config {
            backoff_base,
            public_url,
        }
    }
}

/// How long to wait after the `attempts`-th failed attempt (1-based).
pub fn backoff(base: Duration, attempts: i64) -> Duration {
    let i = usize::try_from(attempts.max(1) - 1)
        .unwrap_or(0)
        .min(STEPS.len() - 1);
    base.saturating_mul(u32::try_from(STEPS[i]).unwrap_or(u32::MAX))
}

/// Starts delivering; runs until the process ends.
pub fn start(db: Db, clock: SharedClock) {
    let config = Config::from_env();
    let client = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Switchyard/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhooks are off: no HTTP client");
            return;
        }
    };
    tokio::spawn(async move {
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(e) = run_due(&db, &client, &config, clock.now()).await {
                tracing::warn!(error = %e, "the webhook deliverer could not look for due deliveries");
            }
        }
    });
}

/// Sends every due delivery once, concurrently, and records each outcome.
pub async fn run_due(
    db: &Db,
    client: &reqwest::Client,
    config: &Config,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let due = {
        let mut conn = db.acquire().await?;
        store::due(&mut conn, &stamp(now), BATCH).await?
    };
    let count = due.len();
    // One task per webhook, sending its rows in order; webhooks proceed side by side.
    let mut queues: Vec<(i64, Vec<DueRow>)> = Vec::new();
    for row in due {
        match queues.iter_mut().find(|(w, _)| *w == row.webhook_id) {
            Some((_, q)) => q.push(row),
            None => queues.push((row.webhook_id, vec![row])),
        }
    }
    let mut sends = tokio::task::JoinSet::new();
    for (_, queue) in queues {
        let (db, client, config) = (db.clone(), client.clone(), config.clone());
        sends.spawn(async move {
            for row in queue {
                let outcome = send(&client, &row, config.public_url.as_deref()).await;
                let failed = outcome.is_err();
                record(&db, &config, &row, outcome, now).await?;
                // The later rows wait for the next tick, so they do not overtake this one.
                if failed {
                    break;
                }
            }
            Ok::<(), anyhow::Error>(())
        });
    }
    while let Some(done) = sends.join_next().await {
        if let Ok(Err(e)) = done {
            tracing::warn!(error = %e, "could not record a webhook delivery");
        }
    }
    Ok(count)
}

async fn record(
    db: &Db,
    config: &Config,
    row: &DueRow,
    outcome: Result<(), String>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut conn = db.acquire().await?;
    match outcome {
        Ok(()) => store::mark_delivered(&mut conn, row.id, &stamp(Utc::now().max(now))).await?,
        Err(error) => {
            let attempts = row.attempts + 1;
            let next = (attempts < MAX_ATTEMPTS).then(|| {
                let wait = backoff(config.backoff_base, attempts);
                stamp(now + chrono::Duration::from_std(wait).unwrap_or_default())
            });
            tracing::warn!(delivery = row.id, attempts, error = %error, "a webhook delivery failed");
            store::mark_failed(&mut conn, row.id, &error, next.as_deref()).await?;
        }
    }
    Ok(())
}

async fn send(client: &reqwest::Client, row: &DueRow, base: Option<&str>) -> Result<(), String> {
    let payload: Payload = serde_json::from_str(&row.body)
        .map_err(|e| format!("the stored event is unreadable: {e}"))?;
    let format = Format::parse(&row.format).unwrap_or(Format::Generic);
    // Serialised here, once, so the signature covers exactly the bytes sent.
    let body = serde_json::to_vec(&render(format, &payload, base))
        .map_err(|e| format!("the body could not be written: {e}"))?;
    let mut request = client
        .post(&row.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(sign::EVENT_HEADER, &payload.event)
        .header(sign::DELIVERY_HEADER, row.id.to_string());
    if !row.secret.is_empty() {
        request = request.header(sign::SIGNATURE_HEADER, sign::signature(&row.secret, &body));
    }
    let answer = request.body(body).send().await.map_err(|e| {
        let mut s = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(inner) = src {
            s.push_str(&format!(": {inner}"));
            src = inner.source();
        }
        s
    })?;
    let status = answer.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the endpoint answered {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_then_stays_at_an_hour() {
        let b = DEFAULT_BASE;
        let secs: Vec<u64> = (1..=7).map(|n| backoff(b, n).as_secs()).collect();
        assert_eq!(secs, vec![5, 30, 120, 600, 3600, 3600, 3600]);
    }
}
