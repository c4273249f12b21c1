//! Adding accepted samples to their series: one point per series and minute, merged.

use super::histogram::Histogram;
use super::{labels_key, minute_of, store, Sample, SampleValue, MAX_SERIES_PER_PROJECT};
use crate::clock::stamp;
use crate::db::Conn;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// (environment, app, name, labels) -> (series id, kind).
type Known = HashMap<(i64, String, String, String), (i64, String)>;

/// Stores each sample in its series, creating the series on first use. A sample whose name is
/// already another type of metric, or that would start a series past the project's limit, is
/// refused with the reason; the others are stored.
pub async fn record(
    conn: &mut Conn,
    samples: &[Sample],
    now: DateTime<Utc>,
) -> Result<Vec<Result<(), String>>, sqlx::Error> {
    let mut known = Known::new();
    let mut counts: HashMap<i64, i64> = HashMap::new();
    let mut out = Vec::with_capacity(samples.len());
    for s in samples {
        let series = match series_for(conn, &mut known, &mut counts, s, now).await? {
            Ok(id) => id,
            Err(why) => {
                out.push(Err(why));
                continue;
            }
        };
        let at = stamp(minute_of(s.at));
        match &s.value {
            SampleValue::Counter(n) => store::add_to_point(conn, series, &at, *n, 0.0).await?,
            SampleValue::Gauge(v) => store::add_to_point(conn, series, &at, 1, *v).await?,
            SampleValue::Histogram(h) => add_histogram(conn, series, &at, h).await?,
        }
        store::touch_series(conn, series, &at).await?;
        out.push(Ok(()));
    }
    Ok(out)
}

async fn series_for(
    conn: &mut Conn,
    known: &mut Known,
    counts: &mut HashMap<i64, i64>,
    s: &Sample,
    now: DateTime<Utc>,
) -> Result<Result<i64, String>, sqlx::Error> {
    let kind = s.value.kind().as_str();
    let labels = labels_key(&s.labels);
    let key = (s.environment_id, s.app_name.clone(), s.name.clone(), labels);
    let found = match known.get(&key) {
        Some(found) => Some(found.clone()),
        None => store::find_series(conn, key.0, &key.1, &key.2, &key.3).await?,
    };
    if let Some((id, stored)) = found {
        known.insert(key, (id, stored.clone()));
        if stored != kind {
            return Ok(Err(format!(
                "{} is already a {stored} here; a {kind} needs another name",
                s.name
            )));
        }
        return Ok(Ok(id));
    }
    let count = match counts.get(&s.environment_id) {
        Some(n) => *n,
        None => store::project_series_count(conn, s.environment_id).await?,
    };
    if count >= MAX_SERIES_PER_PROJECT {
        return Ok(Err(format!(
            "the project already holds {MAX_SERIES_PER_PROJECT} series (name, app and label \
             sets); reuse existing label sets or wait for old series to expire"
        )));
    }
    let id = store::insert_series(conn, key.0, &key.1, &key.2, kind, &key.3, &stamp(now)).await?;
    counts.insert(s.environment_id, count + 1);
    known.insert(key, (id, kind.to_string()));
    Ok(Ok(id))
}

async fn add_histogram(
    conn: &mut Conn,
    series: i64,
    at: &str,
    h: &Histogram,
) -> Result<(), sqlx::Error> {
    let stored = store::histogram_point(conn, series, at).await?;
    let before = stored
        .and_then(|p| {
            let buckets = serde_json::from_str(p.buckets.as_deref()?).ok()?;
            Some(Histogram {
                count: p.count,
                sum: p.sum,
                buckets,
            })
        })
        .unwrap_or_else(Histogram::empty);
    let merged = before.merge(h);
    let buckets = serde_json::to_string(&merged.buckets).unwrap_or_else(|_| "[]".into());
    store::put_histogram_point(conn, series, at, merged.count, merged.sum, &buckets).await
}
