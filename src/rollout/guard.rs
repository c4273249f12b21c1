//! A guard: a health signal aggregated over a window (through `signals::aggregate`, never a
//! second implementation), compared with a limit that is absolute or a multiple of the baseline
//! recorded just before the plan started, and breached only when it stays over the limit for
//! `sustainSeconds` (a shorter blip is tolerated). Pure: points in, readings out.

use crate::error::PathError;
use crate::signals::aggregate::{self, Window};
use crate::signals::Point;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Points are kept per minute: a window shorter than that would read nothing most of the time.
pub const MIN_WINDOW_SECONDS: i64 = 60;
pub const MAX_SECONDS: i64 = 24 * 3600;
pub const MAX_GUARDS: usize = 10;
/// The label that tells traffic that got the flag from traffic that did not.
pub const EXPOSURE_LABEL: &str = "exposure";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregation {
    Rate,
    Ratio,
    P50,
    P95,
    P99,
    Avg,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Guard {
    pub metric: String,
    pub aggregation: Aggregation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denominator: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub threshold: f64,
    #[serde(default)]
    pub relative_to_baseline: bool,
    pub window_seconds: i64,
    #[serde(default)]
    pub sustain_seconds: i64,
}

fn err(field: String, message: impl Into<String>) -> PathError {
    PathError {
        field,
        message: message.into(),
    }
}

/// Every problem of the guards, with paths `guards[i].field`.
pub fn validate(guards: &[Guard]) -> Vec<PathError> {
    let mut errors = Vec::new();
    if guards.len() > MAX_GUARDS {
        errors.push(err(
            "guards".into(),
            format!("a plan has at most {MAX_GUARDS} guards"),
        ));
    }
    for (i, g) in guards.iter().enumerate() {
        let at = |f: &str| format!("guards[{i}].{f}");
        if g.metric.trim().is_empty() || g.metric.len() > 200 {
            errors.push(err(at("metric"), "name the metric the guard reads"));
        }
        match (&g.aggregation, &g.denominator) {
            (Aggregation::Ratio, None) => errors.push(err(
                at("denominator"),
                "a ratio needs the counter it divides by (requests, say)",
            )),
            (Aggregation::Ratio, Some(d)) if d.trim().is_empty() => errors.push(err(
                at("denominator"),
                "a ratio needs the counter it divides by (requests, say)",
            )),
            (a, Some(_)) if *a != Aggregation::Ratio => errors.push(err(
                at("denominator"),
                "only a ratio divides by another counter",
            )),
            _ => {}
        }
        if !g.threshold.is_finite() || g.threshold < 0.0 {
            errors.push(err(at("threshold"), "give a threshold of 0 or more"));
        }
        if !(MIN_WINDOW_SECONDS..=MAX_SECONDS).contains(&g.window_seconds) {
            errors.push(err(
                at("windowSeconds"),
                format!("the window lasts {MIN_WINDOW_SECONDS} seconds to a day: points are kept per minute"),
            ));
        }
        if !(0..=MAX_SECONDS).contains(&g.sustain_seconds) {
            errors.push(err(
                at("sustainSeconds"),
                "the breach is sustained 0 seconds to a day",
            ));
        }
    }
    errors
}

impl Guard {
    pub fn window(&self, now: DateTime<Utc>) -> Window {
        Window::ending(now, self.window_seconds)
    }

    /// The earliest point any reading at `now` needs (a point is the minute it starts).
    pub fn since(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - TimeDelta::seconds(self.window_seconds + 60)
    }

    /// The aggregated value over the window ending `now`; None when there is nothing to say
    /// (no observation, no traffic under a ratio).
    pub fn value(
        &self,
        points: &[Point],
        denominator: &[Point],
        now: DateTime<Utc>,
    ) -> Option<f64> {
        let w = self.window(now);
        match self.aggregation {
            Aggregation::Rate => {
                let any = points.iter().any(|p| w.contains(p.at));
                any.then(|| aggregate::rate(points, w))
            }
            Aggregation::Ratio => aggregate::ratio(points, denominator, w),
            Aggregation::P50 => aggregate::quantile(points, 0.5, w),
            Aggregation::P95 => aggregate::quantile(points, 0.95, w),
            Aggregation::P99 => aggregate::quantile(points, 0.99, w),
            Aggregation::Avg => aggregate::average(points, w),
        }
    }

    /// The value above which the guard is over: the threshold, or the threshold times the
    /// baseline. None for a relative guard without a baseline (there was no data before).
    pub fn limit(&self, baseline: Option<f64>) -> Option<f64> {
        if self.relative_to_baseline {
            baseline.map(|b| b * self.threshold)
        } else {
            Some(self.threshold)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Healthy,
    /// Over the limit, not yet for `sustainSeconds`.
    Breaching,
    Breached,
    NoData,
    /// Relative to a baseline that could not be recorded (no data before the plan).
    NoBaseline,
}

/// One guard read at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub value: Option<f64>,
    pub limit: Option<f64>,
    /// Over the limit now.
    pub over: bool,
    /// Since when it has been over, carried from the previous readings.
    pub over_since: Option<DateTime<Utc>>,
    pub status: Status,
}

/// Reads the guard at `now`, given when it was first seen over its limit (`since`).
pub fn read(
    guard: &Guard,
    value: Option<f64>,
    baseline: Option<f64>,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Reading {
    let limit = guard.limit(baseline);
    let over = matches!((value, limit), (Some(v), Some(l)) if v > l);
    let over_since = if over {
        Some(since.unwrap_or(now))
    } else {
        None
    };
    let status = match (value, limit, over_since) {
        (_, _, Some(s)) if now - s >= TimeDelta::seconds(guard.sustain_seconds) => Status::Breached,
        (_, _, Some(_)) => Status::Breaching,
        (None, _, _) => Status::NoData,
        (_, None, _) => Status::NoBaseline,
        _ => Status::Healthy,
    };
    Reading {
        value,
        limit,
        over,
        over_since,
        status,
    }
}

/// Whether a value is back where it was before the plan: within 10 % of the baseline (or under
/// the limit when there is none to compare with).
pub fn back_to_baseline(value: Option<f64>, baseline: Option<f64>, limit: Option<f64>) -> bool {
    match (value, baseline, limit) {
        (None, _, _) => true,
        (Some(v), Some(b), _) => v <= b * 1.1 + f64::EPSILON,
        (Some(v), None, Some(l)) => v <= l,
        (Some(_), None, None) => false,
    }
}

/// Exposed against unexposed traffic of a ratio guard: the two ratios and a 95 % confidence
/// interval of their difference (normal approximation of two proportions), so a regression can
/// be told from noise.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    pub exposed: f64,
    pub unexposed: f64,
    pub exposed_count: i64,
    pub unexposed_count: i64,
    pub difference: f64,
    pub low: f64,
    pub high: f64,
    /// The whole interval lies above zero: the exposed traffic is worse beyond noise.
    pub worse: bool,
}

pub fn compare_ratios(exposed: (i64, i64), unexposed: (i64, i64)) -> Option<Comparison> {
    let (en, ed) = exposed;
    let (un, ud) = unexposed;
    if ed <= 0 || ud <= 0 {
        return None;
    }
    let p1 = (en as f64 / ed as f64).clamp(0.0, 1.0);
    let p2 = (un as f64 / ud as f64).clamp(0.0, 1.0);
    let se = (p1 * (1.0 - p1) / ed as f64 + p2 * (1.0 - p2) / ud as f64).sqrt();
    let d = p1 - p2;
    let (low, high) = (d - 1.96 * se, d + 1.96 * se);
    Some(Comparison {
        exposed: p1,
        unexposed: p2,
        exposed_count: ed,
        unexposed_count: ud,
        difference: d,
        low,
        high,
        worse: low > 0.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::PointValue;
    use serde_json::json;

    fn t(s: i64) -> DateTime<Utc> {
        "2030-06-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::seconds(s)
    }

    fn guard(v: serde_json::Value) -> Guard {
        serde_json::from_value(v).unwrap()
    }

    fn ratio_guard() -> Guard {
        guard(
            json!({"metric": "errors", "aggregation": "ratio", "denominator": "requests",
            "threshold": 2.0, "relativeToBaseline": true, "windowSeconds": 120,
            "sustainSeconds": 60}),
        )
    }

    fn counter(s: i64, n: i64) -> Point {
        Point {
            at: t(s),
            value: PointValue::Counter(n),
        }
    }

    #[test]
    fn guards_are_checked_field_by_field() {
        let bad = guard(
            json!({"metric": "", "aggregation": "ratio", "threshold": -1,
            "windowSeconds": 5, "sustainSeconds": -3}),
        );
        let fields: Vec<String> = validate(&[bad]).into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "guards[0].metric",
                "guards[0].denominator",
                "guards[0].threshold",
                "guards[0].windowSeconds",
                "guards[0].sustainSeconds"
            ]
        );
        assert!(validate(&[ratio_guard()]).is_empty());
    }

    #[test]
    fn the_value_comes_from_the_signal_aggregations() {
        let g = ratio_guard();
        let errors = [counter(0, 5), counter(60, 5)];
        let requests = [counter(0, 100), counter(60, 100)];
        assert_eq!(g.value(&errors, &requests, t(90)), Some(0.05));
        assert_eq!(g.value(&errors, &[], t(90)), None);
        assert_eq!(g.limit(Some(0.01)), Some(0.02));
        assert_eq!(g.limit(None), None);
    }

    #[test]
    fn a_breach_counts_only_once_sustained() {
        let g = ratio_guard();
        let first = read(&g, Some(0.5), Some(0.01), None, t(0));
        assert_eq!(first.status, Status::Breaching);
        assert_eq!(first.over_since, Some(t(0)));
        let later = read(&g, Some(0.5), Some(0.01), first.over_since, t(59));
        assert_eq!(later.status, Status::Breaching);
        let sustained = read(&g, Some(0.5), Some(0.01), first.over_since, t(60));
        assert_eq!(sustained.status, Status::Breached);
        // A blip that comes back under the limit starts over.
        let back = read(&g, Some(0.01), Some(0.01), first.over_since, t(30));
        assert_eq!((back.status, back.over_since), (Status::Healthy, None));
        assert_eq!(
            read(&g, None, Some(0.01), None, t(0)).status,
            Status::NoData
        );
        assert_eq!(
            read(&g, Some(0.3), None, None, t(0)).status,
            Status::NoBaseline
        );
    }

    #[test]
    fn exposed_traffic_is_compared_with_a_confidence_interval() {
        let worse = compare_ratios((60, 1000), (10, 1000)).unwrap();
        assert!((worse.difference - 0.05).abs() < 1e-9);
        assert!(worse.worse && worse.low > 0.0);
        let noise = compare_ratios((2, 100), (1, 100)).unwrap();
        assert!(!noise.worse && noise.low < 0.0);
        assert_eq!(compare_ratios((1, 0), (1, 10)), None);
        assert!(back_to_baseline(Some(0.0105), Some(0.01), Some(0.02)));
        assert!(!back_to_baseline(Some(0.05), Some(0.01), Some(0.02)));
    }
}
