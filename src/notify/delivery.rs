//! The background deliverer: every second it sends the due outbox rows (concurrently, each with
//! a 5-second timeout), marks a 2xx delivered, and otherwise schedules the next attempt with
//! exponential backoff, giving up after [`MAX_ATTEMPTS`] with the last error kept. Each
//! webhook gets its events in order: a delivery waiting for a retry holds back the later ones. It only reads
//! and updates the outbox, so a slow or failing endpoint never holds up the workflow.
//!
//! Every delivery goes through [`target`]'s checks on the address it connects to. The error a
//! delivery keeps (and the API and settings page show) says only what a project owner can act
//! on: refused by the target rules, the name did not resolve, the HTTP status, or "no answer".
//! A refused connection, a closed port, a reset and a timeout all read the same, so the list
//! of deliveries cannot be used to map which ports answer; the details go to the server log.

use super::payload::{render, Format, Payload};
use super::sign;
use super::store::{self, DueRow};
use super::target::{self, AllowList, GuardedResolver, Refused};
use crate::clock::{stamp, SharedClock};
use crate::db::Db;
use crate::metrics::webhooks::{self as metrics, Attempt};
use chrono::{DateTime, Utc};
use std::time::Duration;

pub const TICK: Duration = Duration::from_secs(1);
pub const TIMEOUT: Duration = Duration::from_secs(5);
pub const MAX_ATTEMPTS: i64 = 8;
/// Rows sent per tick at most.
const BATCH: i64 = 32;
/// How long a claimed row stays this process's (see `store::claim_due`): longer than a whole
/// batch sent to one webhook one after another, so no other replica sends a row while this one
/// may; a process that dies holding rows delays them by this much.
pub const LEASE: Duration = Duration::from_secs(BATCH as u64 * TIMEOUT.as_secs() + 60);

/// Multiples of the backoff base after the 1st, 2nd, ... failed attempt; the last repeats.
/// With the default base of 5 s: 5 s, 30 s, 2 min, 10 min, 1 h.
const STEPS: [u64; 5] = [1, 6, 24, 120, 720];
pub const DEFAULT_BASE: Duration = Duration::from_secs(5);

/// Overrides the backoff base in milliseconds (tests).
pub const BACKOFF_ENV: &str = "SWITCHYARD_WEBHOOK_BACKOFF_MS";
/// The server's public base URL, for links in webhook bodies (such as `https://flags.example.com`).
pub const PUBLIC_URL_ENV: &str = "SWITCHYARD_PUBLIC_URL";

#[derive(Debug, Clone)]
pub struct Config {
    pub backoff_base: Duration,
    pub public_url: Option<String>,
    /// Hosts the operator lets webhooks reach although they are internal.
    pub allow: AllowList,
}

impl Config {
    pub fn from_env(allow: AllowList) -> Config {
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
            allow,
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

/// The two HTTP clients of the deliverer. Neither follows redirects (a 3xx could point
/// anywhere) nor uses a proxy from the environment (the proxy would resolve the name itself,
/// past the check).
#[derive(Clone)]
pub struct Clients {
    /// Resolves through [`GuardedResolver`]: for every target the operator has not allowed.
    guarded: reqwest::Client,
    /// Resolves as the system does: only for hosts on the operator's allow-list.
    allowed: reqwest::Client,
}

impl Clients {
    pub fn new() -> reqwest::Result<Clients> {
        let builder = || {
            reqwest::Client::builder()
                .timeout(TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .user_agent(concat!("Switchyard/", env!("CARGO_PKG_VERSION")))
        };
        Ok(Clients {
            guarded: builder()
                .dns_resolver(std::sync::Arc::new(GuardedResolver))
                .build()?,
            allowed: builder().build()?,
        })
    }
}

/// Starts delivering; runs until the process ends.
pub fn start(db: Db, clock: SharedClock, allow: AllowList) {
    let config = Config::from_env(allow);
    let clients = match Clients::new() {
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
            if let Err(e) = run_due(&db, &clients, &config, &clock).await {
                tracing::warn!(error = %e, "the webhook deliverer could not look for due deliveries");
            }
        }
    });
}

/// Sends every due delivery once, concurrently, and records each outcome. The rows are claimed
/// first, so with several replicas on one database each is sent by one of them.
pub async fn run_due(
    db: &Db,
    clients: &Clients,
    config: &Config,
    clock: &SharedClock,
) -> anyhow::Result<usize> {
    let now = clock.now();
    let due = {
        let mut conn = db.acquire().await?;
        store::claim_due(&mut conn, &stamp(now), LEASE, BATCH).await?
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
        let (db, clients, config, clock) =
            (db.clone(), clients.clone(), config.clone(), clock.clone());
        sends.spawn(async move {
            let mut rows = queue.into_iter();
            while let Some(row) = rows.next() {
                let outcome = send(&clients, &config, &row).await;
                let failed = outcome.is_err();
                record(&db, &config, &row, outcome, now, clock.now()).await?;
                // The later rows go back unsent: due again, they wait behind this one's retry,
                // so they do not overtake it.
                if failed {
                    let rest: Vec<i64> = rows.map(|r| r.id).collect();
                    let mut conn = db.acquire().await?;
                    store::release(&mut conn, &rest, &stamp(now)).await?;
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

/// Why a delivery failed: what its owner is shown, and the detail for the server log.
#[derive(Debug)]
pub struct Failure {
    pub shown: String,
    pub detail: String,
}

impl Failure {
    fn plain(s: String) -> Failure {
        Failure {
            shown: s.clone(),
            detail: s,
        }
    }
}

/// Shown for every transport failure alike (see the module comment).
pub const NO_ANSWER: &str =
    "no answer from the target: the connection was refused, closed or timed out";

async fn record(
    db: &Db,
    config: &Config,
    row: &DueRow,
    outcome: Result<(), Failure>,
    tick: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut conn = db.acquire().await?;
    match outcome {
        Ok(()) => {
            store::mark_delivered(&mut conn, row.id, &stamp(now.max(tick))).await?;
            metrics::attempted(Attempt::Delivered);
        }
        Err(failure) => {
            let attempts = row.attempts + 1;
            // From the tick, not the moment the attempt ended: how long an attempt took is
            // itself a hint of what answered.
            let next = (attempts < MAX_ATTEMPTS).then(|| {
                let wait = backoff(config.backoff_base, attempts);
                stamp(tick + chrono::Duration::from_std(wait).unwrap_or_default())
            });
            tracing::warn!(delivery = row.id, attempts, error = %failure.detail, "a webhook delivery failed");
            store::mark_failed(&mut conn, row.id, &failure.shown, next.as_deref()).await?;
            let given_up = next.is_none();
            metrics::attempted(if given_up {
                Attempt::GivenUp
            } else {
                Attempt::Retrying
            });
        }
    }
    Ok(())
}

/// The sentence shown for a failed request; the whole error chain is the log's detail.
fn failure_of(e: &reqwest::Error) -> Failure {
    let mut detail = e.to_string();
    let mut shown = None;
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        detail.push_str(&format!(": {inner}"));
        if let Some(refused) = inner.downcast_ref::<Refused>() {
            shown.get_or_insert_with(|| refused.0.clone());
        }
        src = inner.source();
    }
    Failure {
        shown: shown.unwrap_or_else(|| NO_ANSWER.to_string()),
        detail,
    }
}

async fn send(clients: &Clients, config: &Config, row: &DueRow) -> Result<(), Failure> {
    let url = reqwest::Url::parse(&row.url)
        .map_err(|_| Failure::plain("the stored URL is not a URL".into()))?;
    let client = if config.allow.allows(&url) {
        &clients.allowed
    } else {
        target::check_before_send(&url, &config.allow).map_err(|r| Failure::plain(r.0))?;
        &clients.guarded
    };
    let payload: Payload = serde_json::from_str(&row.body)
        .map_err(|e| Failure::plain(format!("the stored event is unreadable: {e}")))?;
    let format = Format::parse(&row.format).unwrap_or(Format::Generic);
    // Serialised here, once, so the signature covers exactly the bytes sent.
    let body = serde_json::to_vec(&render(format, &payload, config.public_url.as_deref()))
        .map_err(|e| Failure::plain(format!("the body could not be written: {e}")))?;
    let mut request = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(sign::EVENT_HEADER, &payload.event)
        .header(sign::DELIVERY_HEADER, row.id.to_string());
    if !row.secret.is_empty() {
        request = request.header(sign::SIGNATURE_HEADER, sign::signature(&row.secret, &body));
    }
    let answer = request
        .body(body)
        .send()
        .await
        .map_err(|e| failure_of(&e))?;
    let status = answer.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(Failure::plain(format!(
            "the target answered HTTP {}",
            status.as_u16()
        )))
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
