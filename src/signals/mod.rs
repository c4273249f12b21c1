//! Health signals: time series per environment (so per project), application, metric name and
//! label set, which release guards read to tell a healthy rollout from a regression.
//!
//! Samples arrive three ways: Unleash SDKs' impact metrics inside `POST /api/client/metrics`
//! (summed into their points by the feed and written every few seconds by [`ingest::Ingest`],
//! so reporting never waits on the database), services posting to the admin API (written at once, each sample
//! accepted or refused with a reason), and the feed's own evaluation counts, which are read from
//! the usage tables as counters ([`evaluations`]) rather than stored twice.
//!
//! Points are kept at minute resolution ([`minute_of`]) for [`RETENTION`]; a project holds at
//! most [`MAX_SERIES_PER_PROJECT`] series. [`aggregate`] holds what a guard computes from them.

pub mod aggregate;
pub mod histogram;
pub mod ingest;
mod post;
pub mod raw;
mod read;
pub mod sample;
pub mod store;
mod write;

pub use histogram::{Bucket, Histogram};
pub use post::{post_batch, BatchOutcome, Rejection};
pub use read::{evaluations, guard_points, series, series_named, Series, SeriesQuery};
pub use write::record;

use crate::clock::stamp;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// How long points are kept; older ones are pruned by the writer's hourly sweep.
pub const RETENTION: TimeDelta = TimeDelta::days(14);
/// A sample may be this old (a service catching up after an outage)...
pub const EARLIEST: TimeDelta = TimeDelta::hours(24);
/// ...and this far ahead (clocks drift).
pub const LATEST: TimeDelta = TimeDelta::minutes(5);
/// Distinct (environment, app, name, labels) series per project; new ones past it are refused.
pub const MAX_SERIES_PER_PROJECT: i64 = 1_000;
/// Samples one admin post may carry.
pub const MAX_SAMPLES_PER_POST: usize = 1_000;
/// Impact-metric samples kept from one SDK report; the rest are dropped.
pub const MAX_SAMPLES_PER_REPORT: usize = 1_000;
/// The name of the counter series read from the feed's own evaluation counts.
pub const EVALUATIONS: &str = "feature_evaluations";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        [Kind::Counter, Kind::Gauge, Kind::Histogram]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One accepted sample, before it joins its series.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub environment_id: i64,
    /// "" when the sender named no application.
    pub app_name: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub at: DateTime<Utc>,
    pub value: SampleValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SampleValue {
    /// The increment since the sender's previous sample.
    Counter(i64),
    Gauge(f64),
    Histogram(Histogram),
}

impl SampleValue {
    pub fn kind(&self) -> Kind {
        match self {
            SampleValue::Counter(_) => Kind::Counter,
            SampleValue::Gauge(_) => Kind::Gauge,
            SampleValue::Histogram(_) => Kind::Histogram,
        }
    }
}

/// One minute of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The start of the minute (of the hour, for evaluation counts).
    pub at: DateTime<Utc>,
    pub value: PointValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PointValue {
    /// The increments received in the minute, summed.
    Counter(i64),
    /// The readings received in the minute: their number and sum (the value is the mean).
    Gauge {
        count: i64,
        sum: f64,
    },
    Histogram(Histogram),
}

/// `{"at","value"}` for counters and gauges, `{"at","count","sum","buckets"}` for histograms.
impl Serialize for Point {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("at", &stamp(self.at))?;
        match &self.value {
            PointValue::Counter(n) => map.serialize_entry("value", n)?,
            PointValue::Gauge { count, sum } => {
                map.serialize_entry("value", &(sum / (*count).max(1) as f64))?
            }
            PointValue::Histogram(h) => {
                map.serialize_entry("count", &h.count)?;
                map.serialize_entry("sum", &h.sum)?;
                map.serialize_entry("buckets", &h.buckets)?;
            }
        }
        map.end()
    }
}

/// The minute `at` falls in: the resolution points are kept at.
pub fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::minutes(1)).unwrap_or(at)
}

/// A label set as stored: canonical JSON, keys sorted (a `BTreeMap` serialises in order).
pub fn labels_key(labels: &BTreeMap<String, String>) -> String {
    pairs_key(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// [`labels_key`] of the pairs; a name given twice keeps its last text.
pub fn pairs_key<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    serde_json::to_string(&pairs.collect::<BTreeMap<_, _>>()).unwrap_or_else(|_| "{}".into())
}
