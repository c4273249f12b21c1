//! Adding accepted samples to their series: one point per series and minute, merged.
//!
//! Samples are summed into their points in memory first and each point is written once: an SDK
//! fleet reporting the same fifty metrics every few seconds adds to the same fifty points, and a
//! statement per sample (three for a histogram) kept a core busy at 1,000 reports a second.

use super::histogram::Histogram;
use super::sample::Measurement;
use super::{
    labels_key, minute_of, pairs_key, store, Kind, PointValue, Sample, SampleValue,
    MAX_SERIES_PER_PROJECT,
};
use crate::clock::stamp;
use crate::db::Conn;
use chrono::{DateTime, Utc};
use hashbrown::{DefaultHashBuilder, HashTable};
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

/// What names a series: environment, app, metric name and label set (as stored).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct SeriesKey {
    environment_id: i64,
    app: String,
    name: String,
    labels: String,
}

impl SeriesKey {
    fn of(s: &Sample) -> SeriesKey {
        SeriesKey {
            environment_id: s.environment_id,
            app: s.app_name.clone(),
            name: s.name.clone(),
            labels: labels_key(&s.labels),
        }
    }
}

/// What names a pending point's series: as [`SeriesKey`], with the label set still as its
/// pairs (sorted by name), so that a sample finds its point without writing its labels out.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct PendingKey {
    environment_id: i64,
    app: String,
    name: String,
    labels: Vec<(String, String)>,
}

impl PendingKey {
    fn series(&self) -> SeriesKey {
        SeriesKey {
            environment_id: self.environment_id,
            app: self.app.clone(),
            name: self.name.clone(),
            labels: pairs_key(self.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        }
    }
}

/// A pending point: its series, kind and minute, and what has been summed into it.
#[derive(Debug)]
struct PendingPoint {
    key: PendingKey,
    kind: Kind,
    minute: DateTime<Utc>,
    value: PointValue,
}

/// Samples summed into their points, not yet written: at most `capacity` points, however many
/// samples arrive (a point takes a sample of its own series and minute whatever the count).
///
/// Points are found by the sample's borrowed names, so a sample adding to an existing point
/// allocates nothing: the text of a key is copied once, when its point is made.
#[derive(Debug)]
pub struct Pending {
    points: HashTable<PendingPoint>,
    /// Keys are text an SDK chose, but a flood of distinct keys is stopped by `capacity`, not by
    /// a collision-proof hash: the fast seeded one will do.
    hasher: DefaultHashBuilder,
    capacity: usize,
}

impl Pending {
    pub fn new(capacity: usize) -> Pending {
        Pending {
            points: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            capacity,
        }
    }

    /// Adds what a sample of the environment's application measured in `minute` (a
    /// [`minute_of`]) to its point; false when it needs a new point and there is no room.
    pub fn add(
        &mut self,
        environment_id: i64,
        app_name: &str,
        minute: DateTime<Utc>,
        m: &Measurement,
    ) -> bool {
        debug_assert_eq!(minute, minute_of(minute));
        let name: &str = &m.name;
        let labels = &m.labels[..];
        let kind = m.value.kind();
        // Hashed as the point's own parts hash (a `Cow<str>` as its `str`, like a `String`).
        let hash = self
            .hasher
            .hash_one((environment_id, app_name, name, labels, kind, minute));
        let same = |p: &PendingPoint| {
            p.key.environment_id == environment_id
                && p.kind == kind
                && p.minute == minute
                && p.key.name == name
                && p.key.app == app_name
                && p.key.labels.len() == labels.len()
                && p.key
                    .labels
                    .iter()
                    .zip(labels)
                    .all(|(a, b)| a.0 == b.0 && a.1 == b.1)
        };
        if let Some(point) = self.points.find_mut(hash, same) {
            absorb_sample(&mut point.value, &m.value);
            return true;
        }
        if self.points.len() >= self.capacity {
            return false;
        }
        let point = PendingPoint {
            key: PendingKey {
                environment_id,
                app: app_name.to_owned(),
                name: name.to_owned(),
                labels: labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
            kind,
            minute,
            value: point_of(&m.value),
        };
        let hasher = &self.hasher;
        self.points
            .insert_unique(hash, point, |p| hasher.hash_one(p.parts()));
        true
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Takes what is pending, leaving this empty with the same capacity.
    pub fn take(&mut self) -> Pending {
        Pending {
            points: std::mem::take(&mut self.points),
            hasher: self.hasher,
            capacity: self.capacity,
        }
    }
}

/// What a point is hashed by, as [`Pending::add`] hashes a sample's borrowed parts.
type PointParts<'a> = (
    i64,
    &'a str,
    &'a str,
    &'a [(String, String)],
    Kind,
    DateTime<Utc>,
);

impl PendingPoint {
    fn parts(&self) -> PointParts<'_> {
        let k = &self.key;
        (
            k.environment_id,
            &k.app,
            &k.name,
            &k.labels,
            self.kind,
            self.minute,
        )
    }
}

fn point_of(v: &SampleValue) -> PointValue {
    match v {
        SampleValue::Counter(n) => PointValue::Counter(*n),
        SampleValue::Gauge(x) => PointValue::Gauge { count: 1, sum: *x },
        SampleValue::Histogram(h) => PointValue::Histogram(h.clone()),
    }
}

/// Adds a sample to its pending point without copying it.
fn absorb_sample(point: &mut PointValue, sample: &SampleValue) {
    match (point, sample) {
        (PointValue::Histogram(a), SampleValue::Histogram(b)) => a.absorb(b),
        (point, sample) => absorb(point, point_of(sample)),
    }
}

/// Adds `more` to `point`; both are of one series, so of one kind.
fn absorb(point: &mut PointValue, more: PointValue) {
    match (point, more) {
        (PointValue::Counter(a), PointValue::Counter(b)) => *a = a.saturating_add(b),
        (PointValue::Gauge { count, sum }, PointValue::Gauge { count: c, sum: s }) => {
            *count += c;
            *sum += s;
        }
        (PointValue::Histogram(a), PointValue::Histogram(b)) => *a = a.merge(&b),
        // Keys carry the kind, so kinds never meet another.
        _ => {}
    }
}

/// Points to write, by series id and minute stamp.
type Writes = BTreeMap<(i64, String), PointValue>;

/// Stores each sample in its series, creating the series on first use. A sample whose name is
/// already another type of metric, or that would start a series past the project's limit, is
/// refused with the reason; the others are stored.
pub async fn record(
    conn: &mut Conn,
    samples: &[Sample],
    now: DateTime<Utc>,
) -> Result<Vec<Result<(), String>>, sqlx::Error> {
    let mut series = Resolver::default();
    let mut writes = Writes::new();
    let mut out = Vec::with_capacity(samples.len());
    for s in samples {
        match series
            .id(conn, &SeriesKey::of(s), s.value.kind(), now)
            .await?
        {
            Ok(id) => {
                add_write(&mut writes, id, minute_of(s.at), point_of(&s.value));
                out.push(Ok(()));
            }
            Err(why) => out.push(Err(why)),
        }
    }
    write_points(conn, writes).await?;
    Ok(out)
}

/// Stores what is pending; how many points were refused (a name used by another type, or a
/// series past the project's limit).
pub async fn record_pending(
    conn: &mut Conn,
    pending: Pending,
    now: DateTime<Utc>,
) -> Result<usize, sqlx::Error> {
    let mut series = Resolver::default();
    let mut writes = Writes::new();
    let mut refused = 0;
    // In key order, so the series a batch creates do not depend on a hash map's order.
    let mut points: Vec<_> = pending.points.into_iter().collect();
    points.sort_by(|a, b| (&a.key, a.kind, a.minute).cmp(&(&b.key, b.kind, b.minute)));
    for p in points {
        match series.id(conn, &p.key.series(), p.kind, now).await? {
            Ok(id) => add_write(&mut writes, id, p.minute, p.value),
            Err(_) => refused += 1,
        }
    }
    write_points(conn, writes).await?;
    Ok(refused)
}

fn add_write(writes: &mut Writes, series: i64, minute: DateTime<Utc>, point: PointValue) {
    match writes.entry((series, stamp(minute))) {
        std::collections::btree_map::Entry::Occupied(mut e) => absorb(e.get_mut(), point),
        std::collections::btree_map::Entry::Vacant(e) => {
            e.insert(point);
        }
    }
}

/// Each point once, then each series' last minute once.
async fn write_points(conn: &mut Conn, writes: Writes) -> Result<(), sqlx::Error> {
    let mut latest: BTreeMap<i64, String> = BTreeMap::new();
    for ((series, at), point) in writes {
        match point {
            PointValue::Counter(n) => store::add_to_point(conn, series, &at, n, 0.0).await?,
            PointValue::Gauge { count, sum } => {
                store::add_to_point(conn, series, &at, count, sum).await?
            }
            PointValue::Histogram(h) => add_histogram(conn, series, &at, &h).await?,
        }
        let last = latest.entry(series).or_default();
        if *last < at {
            *last = at;
        }
    }
    for (series, at) in latest {
        store::touch_series(conn, series, &at).await?;
    }
    Ok(())
}

/// Series ids by key, found or created once per batch; the project's series count read once.
#[derive(Default)]
struct Resolver {
    known: HashMap<SeriesKey, (i64, String)>,
    counts: HashMap<i64, i64>,
}

impl Resolver {
    async fn id(
        &mut self,
        conn: &mut Conn,
        key: &SeriesKey,
        kind: Kind,
        now: DateTime<Utc>,
    ) -> Result<Result<i64, String>, sqlx::Error> {
        let kind = kind.as_str();
        let found = match self.known.get(key) {
            Some(found) => Some(found.clone()),
            None => {
                store::find_series(conn, key.environment_id, &key.app, &key.name, &key.labels)
                    .await?
            }
        };
        if let Some((id, stored)) = found {
            self.known.insert(key.clone(), (id, stored.clone()));
            if stored != kind {
                return Ok(Err(format!(
                    "{} is already a {stored} here; a {kind} needs another name",
                    key.name
                )));
            }
            return Ok(Ok(id));
        }
        let count = match self.counts.get(&key.environment_id) {
            Some(n) => *n,
            None => store::project_series_count(conn, key.environment_id).await?,
        };
        if count >= MAX_SERIES_PER_PROJECT {
            return Ok(Err(format!(
                "the project already holds {MAX_SERIES_PER_PROJECT} series (name, app and label \
                 sets); reuse existing label sets or wait for old series to expire"
            )));
        }
        let id = store::insert_series(
            conn,
            key.environment_id,
            &key.app,
            &key.name,
            kind,
            &key.labels,
            &stamp(now),
        )
        .await?;
        self.counts.insert(key.environment_id, count + 1);
        self.known.insert(key.clone(), (id, kind.to_string()));
        Ok(Ok(id))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::Bucket;

    fn sample<'a>(name: &'a str, at: &str, value: SampleValue) -> (DateTime<Utc>, Measurement<'a>) {
        let measured = Measurement {
            name: name.into(),
            labels: smallvec::smallvec![("route".into(), "/checkout".into())],
            value,
        };
        (at.parse().unwrap(), measured)
    }

    /// Adds a sample of the "shop" application in environment 1.
    fn add(p: &mut Pending, (at, measured): (DateTime<Utc>, Measurement)) -> bool {
        p.add(1, "shop", minute_of(at), &measured)
    }

    fn histogram(count: i64, sum: f64, le: f64, under: i64) -> Histogram {
        Histogram {
            count,
            sum,
            buckets: vec![
                Bucket { le, count: under },
                Bucket {
                    le: f64::INFINITY,
                    count,
                },
            ],
        }
    }

    #[test]
    fn samples_of_one_series_and_minute_become_one_point() {
        let mut p = Pending::new(10);
        for at in ["2026-12-07T10:00:05Z", "2026-12-07T10:00:50Z"] {
            assert!(add(
                &mut p,
                sample("requests", at, SampleValue::Counter(10))
            ));
            assert!(add(&mut p, sample("load", at, SampleValue::Gauge(0.5))));
            assert!(add(
                &mut p,
                sample(
                    "latency",
                    at,
                    SampleValue::Histogram(histogram(4, 1.0, 0.5, 3))
                )
            ));
        }
        // The next minute is another point; so is a gauge reusing a counter's name.
        assert!(add(
            &mut p,
            sample("requests", "2026-12-07T10:01:00Z", SampleValue::Counter(1))
        ));
        assert!(add(
            &mut p,
            sample("requests", "2026-12-07T10:00:10Z", SampleValue::Gauge(2.0))
        ));
        assert_eq!(p.len(), 5);
        let value = |name: &str, kind: Kind, minute: &str| {
            let minute: DateTime<Utc> = minute.parse().unwrap();
            p.points
                .iter()
                .find(|p| p.key.name == name && p.kind == kind && p.minute == minute)
                .map(|p| p.value.clone())
                .unwrap()
        };
        let ten = "2026-12-07T10:00:00Z";
        assert_eq!(
            value("requests", Kind::Counter, ten),
            PointValue::Counter(20)
        );
        assert_eq!(
            value("load", Kind::Gauge, ten),
            PointValue::Gauge { count: 2, sum: 1.0 }
        );
        assert_eq!(
            value("latency", Kind::Histogram, ten),
            PointValue::Histogram(histogram(8, 2.0, 0.5, 6))
        );
    }

    #[test]
    fn a_sample_finds_its_point_after_the_table_grows_and_keys_it_as_the_admin_path() {
        let mut p = Pending::new(1000);
        let minute = minute_of("2026-12-07T10:00:05Z".parse().unwrap());
        let measured = |i: usize| Measurement {
            name: "m".into(),
            labels: smallvec::smallvec![
                ("a".into(), i.to_string().into()),
                ("q".into(), "say \"hi\"\n".into())
            ],
            value: SampleValue::Counter(1),
        };
        for _ in 0..2 {
            for i in 0..200 {
                assert!(p.add(1, "shop", minute, &measured(i)));
            }
        }
        assert_eq!(p.len(), 200);
        assert!(p.points.iter().all(|pt| pt.value == PointValue::Counter(2)));
        let point = p
            .points
            .iter()
            .find(|pt| pt.key.labels[0].1 == "7")
            .unwrap();
        let sample = measured(7).to_sample(1, "shop", minute);
        assert_eq!(point.key.series(), SeriesKey::of(&sample));
    }

    #[test]
    fn a_full_batch_still_adds_to_its_points_but_starts_none() {
        let mut p = Pending::new(1);
        assert!(add(
            &mut p,
            sample("requests", "2026-12-07T10:00:05Z", SampleValue::Counter(1))
        ));
        assert!(!add(
            &mut p,
            sample("errors", "2026-12-07T10:00:05Z", SampleValue::Counter(1))
        ));
        assert!(add(
            &mut p,
            sample("requests", "2026-12-07T10:00:30Z", SampleValue::Counter(2))
        ));
        let taken = p.take();
        assert_eq!(taken.len(), 1);
        assert!(p.is_empty());
        assert!(add(
            &mut p,
            sample("errors", "2026-12-07T10:00:05Z", SampleValue::Counter(1))
        ));
    }
}
