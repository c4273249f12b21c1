//! What SDKs report — registrations, metrics buckets — and when each token was last used.
//!
//! Feed handlers only hand reports to a bounded queue and bump an atomic; a background task
//! aggregates them and writes to the database every few seconds, so reporting never slows
//! evaluation and a flood of reports can only drop reports, never grow memory. Server-side
//! evaluations are summed into one table per environment and hour instead of being queued:
//! at 10,000 flags each hand-over would otherwise queue another map of every flag.

use crate::clock::stamp;
use crate::db::{begin_write, Db};
use arc_swap::ArcSwap;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

const QUEUE: usize = 10_000;
const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// One SDK report, already attributed to the token's environment.
#[derive(Debug)]
pub struct Report {
    pub environment_id: i64,
    pub body: ReportBody,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReportBody {
    pub app_name: Option<String>,
    pub instance_id: Option<String>,
    pub sdk_version: Option<String>,
    pub bucket: Option<Bucket>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Bucket {
    pub start: Option<DateTime<Utc>>,
    pub toggles: HashMap<String, ToggleCount>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ToggleCount {
    pub yes: i64,
    pub no: i64,
    pub variants: HashMap<String, i64>,
}

/// Evaluation counts per (environment, hour), then per flag: (yes, no).
type Evaluations = HashMap<(i64, DateTime<Utc>), HashMap<String, (i64, i64)>>;

pub struct Usage {
    queue: mpsc::Sender<Report>,
    /// The threads' tallies since the last write, summed: at most one entry per flag and hour.
    evaluations: Mutex<Evaluations>,
    receiver: Mutex<Option<mpsc::Receiver<Report>>>,
    /// Unix seconds of each token's last use, kept across token-index reloads.
    /// Read without a lock on every feed request; a token's first use adds its cell.
    last_used: ArcSwap<HashMap<i64, Arc<AtomicI64>>>,
}

impl Default for Usage {
    fn default() -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        Usage {
            queue,
            receiver: Mutex::new(Some(receiver)),
            evaluations: Mutex::default(),
            last_used: ArcSwap::default(),
        }
    }
}

thread_local! {
    /// Evaluations this worker thread answered since its last hand-over: (environment, flag) ->
    /// (yes, no). Counting stays thread-local, so evaluating never contends on a lock.
    static TALLY: std::cell::RefCell<Tally> = std::cell::RefCell::new(Tally::new());
}

struct Tally {
    counts: HashMap<i64, HashMap<String, (i64, i64)>>,
    since: std::time::Instant,
}

impl Tally {
    fn new() -> Self {
        Tally {
            counts: HashMap::new(),
            since: std::time::Instant::now(),
        }
    }
}

impl Usage {
    /// Counts server-side evaluations (frontend API and OFREP), the usage evidence for SDKs that
    /// send no metrics of their own. Each thread hands its tally over about once a second.
    pub fn evaluated<'a>(
        &self,
        environment_id: i64,
        results: impl IntoIterator<Item = (&'a str, bool)>,
    ) {
        let full = TALLY.with(|t| {
            let mut t = t.borrow_mut();
            let env = t.counts.entry(environment_id).or_default();
            for (flag, on) in results {
                // Look up by &str first: no allocation once a flag has been seen.
                let c = match env.get_mut(flag) {
                    Some(c) => c,
                    None => env.entry(flag.to_string()).or_default(),
                };
                if on {
                    c.0 += 1;
                } else {
                    c.1 += 1;
                }
            }
            if t.since.elapsed() >= Duration::from_secs(1) {
                Some(std::mem::replace(&mut *t, Tally::new()).counts)
            } else {
                None
            }
        });
        if let Some(counts) = full {
            self.hand_over(counts);
        }
    }

    fn hand_over(&self, counts: HashMap<i64, HashMap<String, (i64, i64)>>) {
        let now = Utc::now();
        let hour = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
        let mut sums = self.evaluations.lock().unwrap_or_else(|p| p.into_inner());
        for (environment_id, flags) in counts {
            let env = sums.entry((environment_id, hour)).or_default();
            for (flag, (yes, no)) in flags {
                let c = env.entry(flag).or_default();
                c.0 += yes;
                c.1 += no;
            }
        }
    }

    /// The summed evaluations as one report per environment and hour, for the writer.
    fn take_evaluations(&self) -> Vec<Report> {
        let sums = std::mem::take(&mut *self.evaluations.lock().unwrap_or_else(|p| p.into_inner()));
        sums.into_iter()
            .map(|((environment_id, hour), flags)| {
                let toggles = flags
                    .into_iter()
                    .map(|(flag, (yes, no))| {
                        let count = ToggleCount {
                            yes,
                            no,
                            variants: HashMap::new(),
                        };
                        (flag, count)
                    })
                    .collect();
                Report {
                    environment_id,
                    body: ReportBody {
                        bucket: Some(Bucket {
                            start: Some(hour),
                            toggles,
                        }),
                        ..ReportBody::default()
                    },
                }
            })
            .collect()
    }

    /// Accepts a report if there is room; a full queue drops it (SDKs resend every interval).
    pub fn report(&self, report: Report) {
        if self.queue.try_send(report).is_err() {
            tracing::debug!("usage queue full; a report was dropped");
        }
    }

    pub fn token_used(&self, token_id: i64) {
        let now = Utc::now().timestamp();
        if let Some(cell) = self.last_used.load().get(&token_id) {
            // Written at most once a second, so the cores reading it keep their cached copy.
            if cell.load(Ordering::Relaxed) != now {
                cell.store(now, Ordering::Relaxed);
            }
            return;
        }
        self.last_used.rcu(|cells| {
            let mut cells = HashMap::clone(cells);
            cells
                .entry(token_id)
                .or_default()
                .store(now, Ordering::Relaxed);
            cells
        });
    }

    /// Starts the background writer; call once.
    pub fn start(self: &Arc<Self>, db: Db) {
        let Some(mut rx) = self
            .receiver
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return;
        };
        let usage = self.clone();
        tokio::spawn(async move {
            let mut flushed: HashMap<i64, i64> = HashMap::new();
            loop {
                tokio::time::sleep(FLUSH_EVERY).await;
                let mut batch = usage.take_evaluations();
                while let Ok(r) = rx.try_recv() {
                    batch.push(r);
                }
                let used = usage.used_since(&flushed);
                if batch.is_empty() && used.is_empty() {
                    continue;
                }
                match write(&db, &batch, &used).await {
                    Ok(()) => flushed.extend(used),
                    Err(e) => {
                        tracing::warn!(error = %e, reports = batch.len(), "could not record usage")
                    }
                }
            }
        });
    }

    fn used_since(&self, flushed: &HashMap<i64, i64>) -> Vec<(i64, i64)> {
        self.last_used
            .load()
            .iter()
            .map(|(id, t)| (*id, t.load(Ordering::Relaxed)))
            .filter(|(id, t)| *t > 0 && flushed.get(id) != Some(t))
            .collect()
    }
}

fn hour_of(t: DateTime<Utc>) -> String {
    stamp(t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t))
}

async fn write(db: &Db, batch: &[Report], used: &[(i64, i64)]) -> Result<(), sqlx::Error> {
    let now = Utc::now();
    let mut tx = begin_write(db).await?;
    for r in batch {
        let b = &r.body;
        if let Some(app) = b.app_name.as_deref().filter(|a| !a.is_empty()) {
            let instance = b.instance_id.as_deref().unwrap_or("");
            sqlx::query(
                "insert into client_applications (environment_id, app_name, instance_id, sdk_version, first_seen, last_seen) \
                 values (?, ?, ?, ?, ?, ?) on conflict (environment_id, app_name, instance_id) do update set \
                 last_seen = excluded.last_seen, sdk_version = case when excluded.sdk_version = '' \
                 then client_applications.sdk_version else excluded.sdk_version end",
            )
            .bind(r.environment_id)
            .bind(truncate(app, 200))
            .bind(truncate(instance, 200))
            .bind(truncate(b.sdk_version.as_deref().unwrap_or(""), 100))
            .bind(stamp(now))
            .bind(stamp(now))
            .execute(&mut *tx)
            .await?;
        }
        let Some(bucket) = &b.bucket else { continue };
        let hour = hour_of(bucket.start.unwrap_or(now));
        for (flag, c) in &bucket.toggles {
            sqlx::query(
                "insert into usage_hourly (environment_id, flag_key, hour, yes, no) values (?, ?, ?, ?, ?) \
                 on conflict (environment_id, flag_key, hour) do update set \
                 yes = usage_hourly.yes + excluded.yes, no = usage_hourly.no + excluded.no",
            )
            .bind(r.environment_id)
            .bind(truncate(flag, 100))
            .bind(&hour)
            .bind(c.yes.max(0))
            .bind(c.no.max(0))
            .execute(&mut *tx)
            .await?;
            for (variant, n) in &c.variants {
                sqlx::query(
                    "insert into usage_variants_hourly (environment_id, flag_key, hour, variant, count) \
                     values (?, ?, ?, ?, ?) on conflict (environment_id, flag_key, hour, variant) \
                     do update set count = usage_variants_hourly.count + excluded.count",
                )
                .bind(r.environment_id)
                .bind(truncate(flag, 100))
                .bind(&hour)
                .bind(truncate(variant, 100))
                .bind((*n).max(0))
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    for (token, at) in used {
        let at = DateTime::from_timestamp(*at, 0).unwrap_or(now);
        sqlx::query("update api_tokens set last_used_at = ? where id = ?")
            .bind(stamp(at))
            .bind(token)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
