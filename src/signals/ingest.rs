//! The SDKs' way in: impact metrics handed over by the feed are summed into their points in
//! memory ([`Pending`]), and a background task writes them every few seconds and sweeps out
//! points past [`RETENTION`]. A fleet reporting the same metrics adds to the same points, so
//! memory and the writes grow with the number of series, not of reports; past
//! [`PENDING_POINTS`] new points are dropped until the next write (SDKs send again next
//! interval), never growing memory or slowing the feed. Also the per-project allowance of admin
//! posts.

use super::raw::RawMetric;
use super::sample::Measurement;
use super::write::{record_pending, Pending};
use super::{minute_of, sample, MAX_SAMPLES_PER_REPORT, RETENTION};
use crate::clock::{stamp, SharedClock};
use crate::db::{begin_write, Db};
use crate::json::{self, Reader};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Points (series and minute) waiting to be written: a few minutes of every series the
/// projects may hold.
const PENDING_POINTS: usize = 20_000;
const FLUSH_EVERY: Duration = Duration::from_secs(5);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Admin posts each project may make per minute unless configured.
pub const DEFAULT_POSTS_PER_MINUTE: u32 = 600;

/// An SDK report's impact metrics, checked as they were read: what each good sample measured.
/// Bad samples and metrics are dropped (the contract has SDKs drop NaN and infinities
/// themselves; an SDK cannot act on a refusal), as is anything past [`MAX_SAMPLES_PER_REPORT`].
#[derive(Debug, Default)]
pub struct ImpactMetrics<'a>(pub Vec<Measurement<'a>>);

impl<'a> ImpactMetrics<'a> {
    /// Reads a report's `impactMetrics` value one metric at a time into the same buffer: the
    /// raw form of a sample is half a kilobyte, and holding a whole report's in memory at once
    /// cost more than reading it.
    pub fn read(r: &mut Reader<'a>) -> json::Result<ImpactMetrics<'a>> {
        // Room for a usual report at once: growing it moved every sample read so far.
        let mut kept = Vec::with_capacity(64);
        let mut metric = RawMetric::default();
        r.items(|r| {
            metric.read_into(r)?;
            if let Ok(samples) = sample::from_impact_metric(&metric) {
                for measured in samples.flatten() {
                    if kept.len() == MAX_SAMPLES_PER_REPORT {
                        break;
                    }
                    kept.push(measured);
                }
            }
            Ok(())
        })?;
        Ok(ImpactMetrics(kept))
    }
}

pub struct Ingest {
    clock: SharedClock,
    pending: Mutex<Pending>,
    started: std::sync::atomic::AtomicBool,
    posts_per_minute: u32,
    /// Per project: the minute's start and the posts made in it.
    posts: Mutex<HashMap<i64, (Instant, u32)>>,
}

impl Ingest {
    pub fn new(clock: SharedClock, posts_per_minute: u32) -> Ingest {
        Ingest {
            clock,
            pending: Mutex::new(Pending::new(PENDING_POINTS)),
            started: Default::default(),
            posts_per_minute: posts_per_minute.max(1),
            posts: Mutex::default(),
        }
    }

    /// Adds what an SDK report's impact metrics measured to their points, as samples of the
    /// token's environment and the SDK's application, taken now.
    pub fn impact_metrics(&self, environment_id: i64, app_name: &str, metrics: &ImpactMetrics) {
        if metrics.0.is_empty() {
            return;
        }
        let minute = minute_of(self.clock.now());
        let app = sample::sdk_app_name(app_name);
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let dropped = metrics
            .0
            .iter()
            .filter(|m| !pending.add(environment_id, app, minute, m))
            .count();
        if dropped > 0 {
            tracing::debug!(
                dropped,
                "too many signal points waiting; impact metrics were dropped"
            );
        }
    }

    /// Counts one admin post for `project_id`; Err(wait) when its minute's allowance is spent.
    pub fn admit_post(&self, project_id: i64, now: Instant) -> Result<(), Duration> {
        let mut posts = self.posts.lock().unwrap_or_else(|p| p.into_inner());
        let (start, n) = posts.entry(project_id).or_insert((now, 0));
        let minute = Duration::from_secs(60);
        if now.saturating_duration_since(*start) >= minute {
            *start = now;
            *n = 0;
        }
        if *n >= self.posts_per_minute {
            return Err(minute.saturating_sub(now.saturating_duration_since(*start)));
        }
        *n += 1;
        Ok(())
    }

    /// Starts the writer and the retention sweep; call once.
    pub fn start(self: &Arc<Self>, db: Db) {
        if self.started.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let ingest = self.clone();
        tokio::spawn(async move {
            let mut last_prune: Option<Instant> = None;
            loop {
                // First at start: a server that was down for a while sweeps at once.
                if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                    last_prune = Some(Instant::now());
                    if let Err(e) = ingest.prune(&db).await {
                        tracing::warn!(error = %e, "could not prune old signals");
                    }
                }
                tokio::time::sleep(FLUSH_EVERY).await;
                let batch = ingest
                    .pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take();
                if !batch.is_empty() {
                    let points = batch.len();
                    if let Err(e) = ingest.write(&db, batch).await {
                        tracing::warn!(error = %e, points, "could not record signals");
                    }
                }
            }
        });
    }

    async fn write(&self, db: &Db, batch: Pending) -> Result<(), sqlx::Error> {
        let mut tx = begin_write(db).await?;
        let refused = record_pending(&mut tx, batch, self.clock.now()).await?;
        // Signals change nothing the feed serves, and ingest must never wait for a rebuild.
        #[allow(clippy::disallowed_methods)]
        tx.commit().await?;
        if refused > 0 {
            tracing::debug!(refused, "impact-metric points refused by the series limits");
        }
        Ok(())
    }

    async fn prune(&self, db: &Db) -> Result<(), sqlx::Error> {
        let before = stamp(self.clock.now() - RETENTION);
        let mut tx = begin_write(db).await?;
        let gone = super::store::prune(&mut tx, &before).await?;
        #[allow(clippy::disallowed_methods)]
        tx.commit().await?;
        if gone > 0 {
            tracing::info!(points = gone, "pruned signal points past retention");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_posts_are_limited_per_project_and_minute() {
        let ingest = Ingest::new(Arc::new(crate::clock::SystemClock), 2);
        let t0 = Instant::now();
        assert!(ingest.admit_post(1, t0).is_ok());
        assert!(ingest.admit_post(1, t0).is_ok());
        let wait = ingest.admit_post(1, t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(60));
        assert!(ingest.admit_post(2, t0).is_ok(), "another project");
        assert!(ingest.admit_post(1, t0 + Duration::from_secs(60)).is_ok());
    }
}
