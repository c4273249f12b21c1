//! The SDKs' way in: impact metrics handed over by the feed go into a bounded queue, and a
//! background task writes them every few seconds and sweeps out points past [`RETENTION`]. A
//! flood can only drop reports (SDKs send again next interval), never grow memory or slow the
//! feed. Also the per-project allowance of admin posts.

use super::{record, sample, Sample, MAX_SAMPLES_PER_REPORT, RETENTION};
use crate::clock::{stamp, SharedClock};
use crate::db::{begin_write, Db};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Reports waiting to be written.
const QUEUE: usize = 2_000;
const FLUSH_EVERY: Duration = Duration::from_secs(5);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Admin posts each project may make per minute unless configured.
pub const DEFAULT_POSTS_PER_MINUTE: u32 = 600;

pub struct Ingest {
    clock: SharedClock,
    queue: mpsc::Sender<Vec<Sample>>,
    receiver: Mutex<Option<mpsc::Receiver<Vec<Sample>>>>,
    posts_per_minute: u32,
    /// Per project: the minute's start and the posts made in it.
    posts: Mutex<HashMap<i64, (Instant, u32)>>,
}

impl Ingest {
    pub fn new(clock: SharedClock, posts_per_minute: u32) -> Ingest {
        let (queue, receiver) = mpsc::channel(QUEUE);
        Ingest {
            clock,
            queue,
            receiver: Mutex::new(Some(receiver)),
            posts_per_minute: posts_per_minute.max(1),
            posts: Mutex::default(),
        }
    }

    /// Reads an SDK report's `impactMetrics` as samples of the token's environment and the SDK's
    /// application, and queues them. Bad samples are dropped (the contract has SDKs drop NaN and
    /// infinities themselves), as is anything past [`MAX_SAMPLES_PER_REPORT`].
    pub fn impact_metrics(&self, environment_id: i64, app_name: &str, metrics: &[Value]) {
        let now = self.clock.now();
        let samples: Vec<Sample> = metrics
            .iter()
            .flat_map(|m| sample::from_impact_metric(m, environment_id, app_name, now))
            .filter_map(Result::ok)
            .take(MAX_SAMPLES_PER_REPORT)
            .collect();
        if samples.is_empty() {
            return;
        }
        if self.queue.try_send(samples).is_err() {
            tracing::debug!("signal queue full; impact metrics were dropped");
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
        let Some(mut rx) = self
            .receiver
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return;
        };
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
                let mut batch = Vec::new();
                while let Ok(samples) = rx.try_recv() {
                    batch.extend(samples);
                }
                if !batch.is_empty() {
                    if let Err(e) = ingest.write(&db, &batch).await {
                        tracing::warn!(error = %e, samples = batch.len(), "could not record signals");
                    }
                }
            }
        });
    }

    async fn write(&self, db: &Db, batch: &[Sample]) -> Result<(), sqlx::Error> {
        let mut tx = begin_write(db).await?;
        let outcome = record(&mut tx, batch, self.clock.now()).await?;
        // Signals change nothing the feed serves, and ingest must never wait for a rebuild.
        #[allow(clippy::disallowed_methods)]
        tx.commit().await?;
        let refused = outcome.iter().filter(|o| o.is_err()).count();
        if refused > 0 {
            tracing::debug!(
                refused,
                "impact-metric samples refused by the series limits"
            );
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
