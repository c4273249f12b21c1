//! Reading a plan's guards from the stored signals: the points each guard needs (shared between
//! plans that read the same metric in one pass), each guard's reading, and where samples carry
//! the exposure label, exposed against unexposed traffic.

use super::guard::{self, Aggregation, Comparison, Guard, Reading, EXPOSURE_LABEL};
use crate::db::Conn;
use crate::signals::{self, aggregate, Point, Series};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};

/// Series read in one pass, by environment and metric, each with its labels and its points
/// since the earliest start asked for: a thousand plans watching the same error ratio read it
/// once, and plans watching one label set each (a series per flag) filter the same read.
#[derive(Default)]
pub struct PointCache {
    read: HashMap<(i64, String), Read>,
}

/// One metric's series, with an index from each label pair to the series that carry it.
struct Read {
    since: DateTime<Utc>,
    series: Vec<Series>,
    by_label: HashMap<(String, String), Vec<usize>>,
}

impl Read {
    fn new(since: DateTime<Utc>, series: Vec<Series>) -> Read {
        let mut by_label: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, s) in series.iter().enumerate() {
            for (k, v) in &s.labels {
                by_label.entry((k.clone(), v.clone())).or_default().push(i);
            }
        }
        Read {
            since,
            series,
            by_label,
        }
    }

    /// The series whose labels include all of `labels`.
    fn matching<'a>(&'a self, labels: &'a BTreeMap<String, String>) -> Vec<&'a Series> {
        let candidates: Vec<usize> = match labels.iter().next() {
            None => (0..self.series.len()).collect(),
            Some((k, v)) => self
                .by_label
                .get(&(k.clone(), v.clone()))
                .cloned()
                .unwrap_or_default(),
        };
        candidates
            .into_iter()
            .map(|i| &self.series[i])
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
            .collect()
    }
}

impl PointCache {
    /// Reads at once what a pass will ask for: each metric of each environment from the earliest
    /// start any guard needs, so that no metric is read twice.
    pub async fn prepare<'a>(
        &mut self,
        conn: &mut Conn,
        guards: impl IntoIterator<Item = (i64, &'a Guard)>,
        now: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let mut earliest: HashMap<(i64, String), DateTime<Utc>> = HashMap::new();
        for (env, g) in guards {
            let since = g.since(now);
            for name in std::iter::once(&g.metric).chain(g.denominator.as_ref()) {
                let at = earliest.entry((env, name.clone())).or_insert(since);
                *at = (*at).min(since);
            }
        }
        for ((env, name), since) in earliest {
            let series = signals::series_named(&mut *conn, env, &name, since).await?;
            self.read.insert((env, name), Read::new(since, series));
        }
        Ok(())
    }

    /// Every point since `since` of the series of `name` whose labels include all of `labels`
    /// (any application), oldest first.
    pub async fn points(
        &mut self,
        conn: &mut Conn,
        environment_id: i64,
        name: &str,
        labels: &BTreeMap<String, String>,
        since: DateTime<Utc>,
    ) -> Result<Vec<Point>, sqlx::Error> {
        let key = (environment_id, name.to_string());
        let fresh = self.read.get(&key).is_some_and(|r| r.since <= since);
        if !fresh {
            let series = signals::series_named(&mut *conn, environment_id, name, since).await?;
            self.read.insert(key.clone(), Read::new(since, series));
        }
        let Some(read) = self.read.get(&key) else {
            return Ok(Vec::new());
        };
        let mut out: Vec<Point> = read
            .matching(labels)
            .into_iter()
            .flat_map(|s| s.points.iter().filter(|p| p.at >= since).cloned())
            .collect();
        out.sort_by_key(|p| p.at);
        Ok(out)
    }
}

/// The guard's aggregated value at `now` over the points matching `labels`.
async fn value_with(
    conn: &mut Conn,
    cache: &mut PointCache,
    environment_id: i64,
    g: &Guard,
    labels: &BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> Result<Option<f64>, sqlx::Error> {
    let since = g.since(now);
    let points = cache
        .points(&mut *conn, environment_id, &g.metric, labels, since)
        .await?;
    let denominator = match (&g.aggregation, &g.denominator) {
        (Aggregation::Ratio, Some(d)) => {
            cache
                .points(&mut *conn, environment_id, d, labels, since)
                .await?
        }
        _ => Vec::new(),
    };
    Ok(g.value(&points, &denominator, now))
}

pub async fn value(
    conn: &mut Conn,
    cache: &mut PointCache,
    environment_id: i64,
    g: &Guard,
    now: DateTime<Utc>,
) -> Result<Option<f64>, sqlx::Error> {
    value_with(conn, cache, environment_id, g, &g.labels, now).await
}

/// One guard of a plan, read now.
#[derive(Debug, Clone)]
pub struct GuardCheck {
    pub guard: Guard,
    pub baseline: Option<f64>,
    pub reading: Reading,
}

/// Reads every guard of a plan: `since[i]` is when guard `i` was first seen over its limit.
pub async fn check(
    conn: &mut Conn,
    cache: &mut PointCache,
    environment_id: i64,
    guards: &[Guard],
    baselines: &[Option<f64>],
    since: &[Option<DateTime<Utc>>],
    now: DateTime<Utc>,
) -> Result<Vec<GuardCheck>, sqlx::Error> {
    let mut out = Vec::with_capacity(guards.len());
    for (i, g) in guards.iter().enumerate() {
        let v = value(&mut *conn, cache, environment_id, g, now).await?;
        let baseline = baselines.get(i).copied().flatten();
        let reading = guard::read(g, v, baseline, since.get(i).copied().flatten(), now);
        out.push(GuardCheck {
            guard: g.clone(),
            baseline,
            reading,
        });
    }
    Ok(out)
}

/// Exposed against unexposed traffic of a ratio guard, where its samples carry the `exposure`
/// label (`exposed` / `unexposed`); None when they do not, or for other aggregations.
pub async fn exposure(
    conn: &mut Conn,
    cache: &mut PointCache,
    environment_id: i64,
    g: &Guard,
    now: DateTime<Utc>,
) -> Result<Option<Comparison>, sqlx::Error> {
    let Aggregation::Ratio = g.aggregation else {
        return Ok(None);
    };
    let Some(den) = &g.denominator else {
        return Ok(None);
    };
    let since = g.since(now);
    let w = g.window(now);
    let mut counts = Vec::new();
    for side in ["exposed", "unexposed"] {
        let mut labels = g.labels.clone();
        labels.insert(EXPOSURE_LABEL.into(), side.into());
        let num = cache
            .points(&mut *conn, environment_id, &g.metric, &labels, since)
            .await?;
        let below = cache
            .points(&mut *conn, environment_id, den, &labels, since)
            .await?;
        counts.push((aggregate::total(&num, w), aggregate::total(&below, w)));
    }
    Ok(guard::compare_ratios(counts[0], counts[1]))
}
