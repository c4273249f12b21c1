//! The background writer: every few seconds, the queued reports, the summed server-side
//! evaluations and each token's last use, written in one transaction.

use super::{Report, Usage};
use crate::auth::token_store;
use crate::clock::stamp;
use crate::db::{begin_write, Db};
use crate::usage::store as usage_store;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

const FLUSH_EVERY: Duration = Duration::from_secs(5);

impl Usage {
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
