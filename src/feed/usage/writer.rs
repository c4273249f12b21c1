//! The background writer: every few seconds, the queued reports, the summed server-side
//! evaluations and each token's last use, written in one transaction. Beside it, on PostgreSQL
//! (where several replicas may share the database), each second: this replica's SDK posts per
//! token in the current minute, written for the others, and theirs read back for the limiter.

use super::bounds::Learnt;
use super::{Report, Usage};
use crate::auth::token_store;
use crate::clock::stamp;
use crate::db::{begin_write, Backend, Db};
use crate::usage::store as usage_store;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

const FLUSH_EVERY: Duration = Duration::from_secs(5);
/// How often replicas tell each other their SDK posts. A token can go past its allowance by what
/// the other replicas admit between two of these (their share of what was left, at most).
const SHARE_EVERY: Duration = Duration::from_secs(1);
/// Shares older than this are not trusted (the database is away): each replica's bucket alone
/// decides, as on one process, rather than refusing SDKs for want of the database.
const SHARE_FRESH: Duration = Duration::from_secs(3);

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
        if db.backend() == Backend::Postgres {
            self.share_posts(db.clone());
        }
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

    /// Starts sharing the SDK post counts with the other replicas, now and every second. On
    /// SQLite (one process's database) the allowance stays the process's own.
    fn share_posts(self: &Arc<Self>, db: Db) {
        let usage = self.clone();
        let replica = uuid::Uuid::new_v4().to_string();
        tokio::spawn(async move {
            let mut pruned = None;
            let mut failing = false;
            loop {
                match share(&usage, &db, &replica, &mut pruned).await {
                    Ok(()) => failing = false,
                    Err(e) if !failing => {
                        failing = true;
                        tracing::warn!(error = %e, "could not share SDK post counts with the other replicas");
                    }
                    Err(_) => {}
                }
                tokio::time::sleep(SHARE_EVERY).await;
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

/// One exchange: this replica's unsent counts written (under the minute they were counted in),
/// the minute's counts of the others read, old minutes forgotten once a minute.
async fn share(
    usage: &Usage,
    db: &Db,
    replica: &str,
    pruned: &mut Option<i64>,
) -> Result<(), sqlx::Error> {
    let now = usage.clock.now();
    let minute = now.timestamp().div_euclid(60);
    let into_minute = TimeDelta::seconds(now.timestamp().rem_euclid(60))
        + TimeDelta::nanoseconds(i64::from(now.timestamp_subsec_nanos()));
    let minute_ends = (TimeDelta::minutes(1) - into_minute)
        .to_std()
        .unwrap_or_default();
    let (counted, written) = usage.limiter.unsynced().unwrap_or((minute, Vec::new()));
    let mut conn = db.acquire().await?;
    let replicas = usage_store::share_posts(&mut conn, replica, counted, &written).await?;
    if *pruned != Some(minute) {
        usage_store::prune_posts(&mut conn, minute - 1).await?;
        *pruned = Some(minute);
    }
    let others = usage_store::others_posts(&mut conn, replica, minute).await?;
    usage.limiter.learn(Learnt {
        minute,
        replicas,
        others: others.into_iter().collect(),
        written,
        now: std::time::Instant::now(),
        minute_ends,
        next_sync: SHARE_EVERY,
        fresh_for: SHARE_FRESH,
    });
    Ok(())
}

fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t)
}

/// A flush's reports summed: each application instance, flag hour and variant hour written
/// once, however many reports named it (an SDK fleet reports the same flags every few seconds;
/// a statement per report and flag kept a core busy at 1,000 reports a second).
/// When an application instance was first and last seen in a flush, and its SDK version.
type Seen<'a> = (DateTime<Utc>, DateTime<Utc>, &'a str);

#[derive(Default)]
struct Tally<'a> {
    /// (environment, app, instance) -> first and last seen, and the last SDK version named.
    apps: BTreeMap<(i64, &'a str, &'a str), Seen<'a>>,
    /// (environment, flag, hour) -> yes, no.
    hours: BTreeMap<(i64, &'a str, DateTime<Utc>), (i64, i64)>,
    /// (environment, flag, variant, hour) -> count.
    variants: BTreeMap<(i64, &'a str, &'a str, DateTime<Utc>), i64>,
}

impl<'a> Tally<'a> {
    fn of(batch: &'a [Report]) -> Tally<'a> {
        let mut t = Tally::default();
        for r in batch {
            let b = &r.body;
            if let Some(app) = b.app_name.as_deref().filter(|a| !a.is_empty()) {
                let instance = truncate(b.instance_id.as_deref().unwrap_or(""), 200);
                let sdk = truncate(b.sdk_version.as_deref().unwrap_or(""), 100);
                let seen = r.received;
                let key = (r.environment_id, truncate(app, 200), instance);
                let entry = t.apps.entry(key).or_insert((seen, seen, sdk));
                entry.0 = entry.0.min(seen);
                entry.1 = entry.1.max(seen);
                if !sdk.is_empty() {
                    entry.2 = sdk;
                }
            }
            let Some(bucket) = &b.bucket else { continue };
            let hour = hour_of(bucket.start.unwrap_or(r.received));
            for (flag, c) in &bucket.toggles {
                let (env, flag) = (r.environment_id, truncate(flag, 100));
                let h = t.hours.entry((env, flag, hour)).or_default();
                h.0 = h.0.saturating_add(c.yes.max(0));
                h.1 = h.1.saturating_add(c.no.max(0));
                for (variant, n) in &c.variants {
                    let key = (env, flag, truncate(variant, 100), hour);
                    let v = t.variants.entry(key).or_default();
                    *v = v.saturating_add((*n).max(0));
                }
            }
        }
        t
    }
}

async fn write(
    db: &Db,
    batch: &[Report],
    used: &[(i64, i64)],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let tally = Tally::of(batch);
    let mut tx = begin_write(db).await?;
    for ((env, app, instance), (first, last, sdk)) in &tally.apps {
        let (first, last) = (stamp(*first), stamp(*last));
        usage_store::record_application(&mut tx, *env, app, instance, sdk, &first).await?;
        if last != first {
            usage_store::record_application(&mut tx, *env, app, instance, sdk, &last).await?;
        }
    }
    for ((env, flag, hour), (yes, no)) in &tally.hours {
        usage_store::add_hour(&mut tx, *env, flag, &stamp(*hour), *yes, *no).await?;
    }
    for ((env, flag, variant, hour), n) in &tally.variants {
        let hour = stamp(*hour);
        usage_store::add_variant_hour(&mut tx, *env, (flag, variant), &hour, *n).await?;
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
    use crate::feed::usage::{Bucket, ReportBody, ToggleCount};

    fn report(env: i64, at: &str, sdk: &str, yes: i64) -> Report {
        let toggles = HashMap::from([(
            "checkout".to_string(),
            ToggleCount {
                yes,
                no: 1,
                variants: HashMap::from([("blue".to_string(), yes)]),
            },
        )]);
        Report {
            environment_id: env,
            body: ReportBody {
                app_name: Some("shop".into()),
                instance_id: Some("pod-1".into()),
                sdk_version: Some(sdk.into()),
                bucket: Some(Bucket {
                    start: Some("2026-12-07T10:15:00Z".parse().unwrap()),
                    toggles,
                }),
                impact_metrics: Default::default(),
            },
            received: at.parse().unwrap(),
        }
    }

    #[test]
    fn reports_of_one_instance_and_hour_are_written_once_summed() {
        let batch = [
            report(1, "2026-12-07T10:16:00Z", "unleash-node:6.12", 3),
            report(1, "2026-12-07T10:16:04Z", "", 4),
            report(2, "2026-12-07T10:16:02Z", "unleash-node:6.12", 5),
        ];
        let t = Tally::of(&batch);
        assert_eq!(t.apps.len(), 2);
        let (first, last, sdk) = &t.apps[&(1, "shop", "pod-1")];
        assert_eq!(
            (stamp(*first).as_str(), stamp(*last).as_str(), *sdk),
            (
                "2026-12-07T10:16:00.000Z",
                "2026-12-07T10:16:04.000Z",
                "unleash-node:6.12"
            )
        );
        let hour: DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
        assert_eq!(t.hours[&(1, "checkout", hour)], (7, 2));
        assert_eq!(t.hours[&(2, "checkout", hour)], (5, 1));
        assert_eq!(t.variants[&(1, "checkout", "blue", hour)], 7);
    }
}
