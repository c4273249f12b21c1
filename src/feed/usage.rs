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

mod bounds;
mod report;
mod writer;

pub use bounds::{
    bound, Limiter, DEFAULT_POSTS_PER_MINUTE, EARLIEST, LATEST, MAX_COUNT, MAX_VARIANTS,
};
pub use report::{Bucket, ReportBody, ToggleCount};

use crate::clock::{SharedClock, SystemClock};
use arc_swap::ArcSwap;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

const QUEUE: usize = 10_000;

/// One SDK report, already attributed to the token's environment.
#[derive(Debug)]
pub struct Report {
    pub environment_id: i64,
    pub body: ReportBody<'static>,
    /// When it arrived: an SDK was seen then, whenever the batch is written.
    pub received: DateTime<Utc>,
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
        body: ReportBody,
        known: impl Fn(&str) -> bool,
    ) -> Result<(), String> {
        let now = self.clock.now();
        let mut body = body.without_metrics();
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
}
