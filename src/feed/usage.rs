//! What SDKs report — registrations, metrics buckets — and when each token was last used.
//!
//! Feed handlers only hand reports to a bounded queue and bump an atomic; a background task
//! aggregates them and writes to the database every few seconds, so reporting never slows
//! evaluation and a flood of reports can only drop reports, never grow memory. Server-side
//! evaluations are summed into one table per environment and hour instead of being queued:
//! at 10,000 flags each hand-over would otherwise queue another map of every flag.
//!
//! Metrics come from SDKs, and frontend tokens are public (they ship in web pages), so what a
//! report may add to the database is bounded (reliability plan L9): only flags the token's
//! environment serves are counted, a bucket's hour lies near now ([`EARLIEST`], [`LATEST`]),
//! each count is at most [`MAX_COUNT`], a flag carries at most [`MAX_VARIANTS`] variant names,
//! and each token may post [`Limiter`]'s allowance per minute.

use crate::auth::token_store;
use crate::clock::{stamp, SharedClock, SystemClock};
use crate::db::{begin_write, Db};
use crate::usage::store as usage_store;
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

/// A bucket may start this long before now (SDKs resend what failed, for a while)...
pub const EARLIEST: TimeDelta = TimeDelta::days(2);
/// ...and this long after (clocks drift).
pub const LATEST: TimeDelta = TimeDelta::hours(1);
/// The largest count a bucket may carry for one flag (or variant): a billion evaluations in one
/// SDK interval is far past any real application.
pub const MAX_COUNT: i64 = 1_000_000_000;
/// Variant names counted per flag and bucket; more are dropped.
pub const MAX_VARIANTS: usize = 32;
/// Metric and registration posts each token may make per minute unless configured.
pub const DEFAULT_POSTS_PER_MINUTE: u32 = 6_000;

/// One SDK report, already attributed to the token's environment.
#[derive(Debug)]
pub struct Report {
    pub environment_id: i64,
    pub body: ReportBody,
    /// When it arrived: an SDK was seen then, whenever the batch is written.
    pub received: DateTime<Utc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ReportBody {
    pub app_name: Option<String>,
    pub instance_id: Option<String>,
    pub sdk_version: Option<String>,
    pub bucket: Option<Bucket>,
    /// Unleash impact metrics (counters, gauges, histograms), read by `crate::signals`; kept as
    /// JSON so that one malformed metric never costs the report.
    pub impact_metrics: Option<serde_json::Value>,
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
    clock: SharedClock,
    limiter: Limiter,
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
        Usage::new(Arc::new(SystemClock), DEFAULT_POSTS_PER_MINUTE)
    }
}

impl Usage {
    /// `posts_per_minute`: how many metric and registration posts each token may make.
    pub fn new(clock: SharedClock, posts_per_minute: u32) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        Usage {
            clock,
            limiter: Limiter::per_minute(posts_per_minute),
            queue,
            receiver: Mutex::new(Some(receiver)),
            evaluations: Mutex::default(),
            last_used: ArcSwap::default(),
        }
    }

    /// Counts one post of `token`; Err(wait) when its allowance is spent.
    pub fn admit_post(&self, token_id: i64) -> Result<(), Duration> {
        self.limiter.admit(token_id, std::time::Instant::now())
    }

    /// Bounds an SDK report (see the module comment) and queues it. `known` says whether the
    /// environment serves a flag; counts of other flags are dropped. Err is the reason a report
    /// is refused whole.
    pub fn accept(
        &self,
        environment_id: i64,
        mut body: ReportBody,
        known: impl Fn(&str) -> bool,
    ) -> Result<(), String> {
        let now = self.clock.now();
        if let Some(bucket) = &mut body.bucket {
            bound(bucket, &known, now)?;
        }
        self.report(Report {
            environment_id,
            body,
            received: now,
        });
        Ok(())
    }
}

/// Drops counts of unknown flags and extra variants; refuses a bucket far from `now` or with an
/// impossible count.
pub fn bound(
    bucket: &mut Bucket,
    known: impl Fn(&str) -> bool,
    now: DateTime<Utc>,
) -> Result<(), String> {
    if let Some(start) = bucket.start {
        if start < now - EARLIEST || start > now + LATEST {
            return Err(format!(
                "the bucket's hour ({}) is not within two days before and an hour after now",
                stamp(start)
            ));
        }
    }
    bucket.toggles.retain(|flag, _| known(flag));
    for (flag, c) in &mut bucket.toggles {
        let counts = [c.yes, c.no]
            .into_iter()
            .chain(c.variants.values().copied());
        if counts.into_iter().any(|n| !(0..=MAX_COUNT).contains(&n)) {
            return Err(format!(
                "a count for {flag} is not between 0 and {MAX_COUNT} (one bucket's evaluations)"
            ));
        }
        if c.variants.len() > MAX_VARIANTS {
            let mut names: Vec<String> = c.variants.keys().cloned().collect();
            names.sort();
            for extra in &names[MAX_VARIANTS..] {
                c.variants.remove(extra);
            }
        }
    }
    Ok(())
}

/// A token bucket per API token: `capacity` posts at once, refilled evenly over a minute.
/// Only tokens that authenticated reach it, so it holds at most one entry per real token.
pub struct Limiter {
    capacity: f64,
    per_second: f64,
    buckets: Mutex<HashMap<i64, (f64, std::time::Instant)>>,
}

impl Limiter {
    pub fn per_minute(posts: u32) -> Limiter {
        let capacity = f64::from(posts.max(1));
        Limiter {
            capacity,
            per_second: capacity / 60.0,
            buckets: Mutex::default(),
        }
    }

    /// Takes one post from `token`'s allowance, or says how long until one is free.
    pub fn admit(&self, token: i64, now: std::time::Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (left, at) = buckets.entry(token).or_insert((self.capacity, now));
        let refill = now.saturating_duration_since(*at).as_secs_f64() * self.per_second;
        *left = (*left + refill).min(self.capacity);
        *at = now;
        if *left >= 1.0 {
            *left -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *left) / self.per_second))
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
        let now = self.clock.now();
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
                    received: hour,
                }
            })
            .collect()
    }

    /// Accepts a report if there is room; a full queue drops it (SDKs resend every interval).
    pub fn report(&self, report: Report) {
        if self.queue.try_send(report).is_err() {
            crate::metrics::sdk::report_dropped();
            tracing::debug!("usage queue full; a report was dropped");
        }
    }

    // On every feed request: the system time, not the clock (a test clock reads a file), and
    // only for the token's last-used bookkeeping.
    #[allow(clippy::disallowed_methods)]
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
                match write(&db, &batch, &used, usage.clock.now()).await {
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

async fn write(
    db: &Db,
    batch: &[Report],
    used: &[(i64, i64)],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut tx = begin_write(db).await?;
    for r in batch {
        let b = &r.body;
        if let Some(app) = b.app_name.as_deref().filter(|a| !a.is_empty()) {
            let instance = truncate(b.instance_id.as_deref().unwrap_or(""), 200);
            let sdk = truncate(b.sdk_version.as_deref().unwrap_or(""), 100);
            let (env, seen) = (r.environment_id, stamp(r.received));
            let app = truncate(app, 200);
            usage_store::record_application(&mut tx, env, app, instance, sdk, &seen).await?;
        }
        let Some(bucket) = &b.bucket else { continue };
        let hour = hour_of(bucket.start.unwrap_or(r.received));
        for (flag, c) in &bucket.toggles {
            let (env, flag) = (r.environment_id, truncate(flag, 100));
            usage_store::add_hour(&mut tx, env, flag, &hour, c.yes.max(0), c.no.max(0)).await?;
            for (variant, n) in &c.variants {
                let names = (flag, truncate(variant, 100));
                usage_store::add_variant_hour(&mut tx, env, names, &hour, (*n).max(0)).await?;
            }
        }
    }
    for (token, at) in used {
        let at = DateTime::from_timestamp(*at, 0).unwrap_or(now);
        token_store::set_last_used(&mut tx, *token, &stamp(at)).await?;
    }
    // Usage counts change nothing the feed serves, and the SDKs' posts must never wait for it.
    #[allow(clippy::disallowed_methods)]
    tx.commit().await
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn toggles(pairs: &[(&str, i64)]) -> HashMap<String, ToggleCount> {
        pairs
            .iter()
            .map(|(f, n)| {
                let count = ToggleCount {
                    yes: *n,
                    ..ToggleCount::default()
                };
                (f.to_string(), count)
            })
            .collect()
    }

    #[test]
    fn unknown_flags_are_dropped_and_far_hours_or_absurd_counts_refused() {
        let now = at("2030-06-01T12:00:00Z");
        let known = |f: &str| f == "real";
        let mut b = Bucket {
            start: Some(now),
            toggles: toggles(&[("real", 3), ("invented", 1)]),
        };
        assert_eq!(bound(&mut b, known, now), Ok(()));
        assert_eq!(b.toggles.keys().collect::<Vec<_>>(), ["real"]);
        for start in [
            "2030-05-30T11:59:00Z",
            "2030-06-01T13:01:00Z",
            "1000-01-01T00:00:00Z",
        ] {
            let mut b = Bucket {
                start: Some(at(start)),
                toggles: toggles(&[("real", 1)]),
            };
            assert!(bound(&mut b, known, now).is_err(), "{start}");
        }
        for n in [-1, MAX_COUNT + 1] {
            let mut b = Bucket {
                start: Some(now),
                toggles: toggles(&[("real", n)]),
            };
            assert!(bound(&mut b, known, now).is_err(), "{n}");
        }
        // An absurd count of an unknown flag is dropped with it, not refused.
        let mut b = Bucket {
            start: Some(now - TimeDelta::hours(47)),
            toggles: toggles(&[("real", MAX_COUNT), ("invented", i64::MAX)]),
        };
        assert_eq!(bound(&mut b, known, now), Ok(()));
    }

    #[test]
    fn variant_names_are_capped() {
        let now = at("2030-06-01T12:00:00Z");
        let mut count = ToggleCount::default();
        for i in 0..100 {
            count.variants.insert(format!("v{i:03}"), 1);
        }
        let mut b = Bucket {
            start: None,
            toggles: HashMap::from([("real".to_string(), count)]),
        };
        bound(&mut b, |_| true, now).unwrap();
        assert_eq!(b.toggles["real"].variants.len(), MAX_VARIANTS);
    }

    #[test]
    fn the_limiter_spends_then_refills_per_token() {
        let limiter = Limiter::per_minute(3);
        let t0 = std::time::Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.admit(1, t0), Ok(()));
        }
        let wait = limiter.admit(1, t0).unwrap_err();
        assert!(
            wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert_eq!(
            limiter.admit(2, t0),
            Ok(()),
            "another token is not affected"
        );
        assert_eq!(limiter.admit(1, t0 + Duration::from_secs(20)), Ok(()));
        assert!(limiter.admit(1, t0 + Duration::from_secs(20)).is_err());
    }
}
