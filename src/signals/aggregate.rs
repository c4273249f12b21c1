//! What a release guard computes from stored points over a window: a counter's rate, the ratio
//! of two counters (errors over requests), a histogram quantile, a gauge's average. Pure; the
//! points may come from several series (every app and label set that matched the guard).

use super::histogram::Histogram;
use super::{Point, PointValue};
use chrono::{DateTime, TimeDelta, Utc};

/// The points counted: those whose minute starts in `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    /// The `seconds` before `end`.
    pub fn ending(end: DateTime<Utc>, seconds: i64) -> Window {
        Window {
            start: end - TimeDelta::seconds(seconds.max(1)),
            end,
        }
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }

    fn seconds(&self) -> f64 {
        ((self.end - self.start).num_milliseconds() as f64 / 1000.0).max(1.0)
    }
}

fn inside<'a>(
    points: impl IntoIterator<Item = &'a Point>,
    window: Window,
) -> impl Iterator<Item = &'a PointValue> {
    points
        .into_iter()
        .filter(move |p| window.contains(p.at))
        .map(|p| &p.value)
}

/// The counter increments in the window, summed.
pub fn total<'a>(points: impl IntoIterator<Item = &'a Point>, window: Window) -> i64 {
    inside(points, window)
        .map(|v| match v {
            PointValue::Counter(n) => *n,
            _ => 0,
        })
        .sum()
}

/// Increments per second over the window (0 when nothing was counted).
pub fn rate<'a>(points: impl IntoIterator<Item = &'a Point>, window: Window) -> f64 {
    total(points, window) as f64 / window.seconds()
}

/// `numerator` increments over `denominator` increments in the window; None when the
/// denominator counted nothing (no traffic says nothing about an error ratio).
pub fn ratio<'a>(
    numerator: impl IntoIterator<Item = &'a Point>,
    denominator: impl IntoIterator<Item = &'a Point>,
    window: Window,
) -> Option<f64> {
    let below = total(denominator, window);
    (below > 0).then(|| total(numerator, window) as f64 / below as f64)
}

/// The `q` quantile (0.5, 0.95, 0.99) of every observation in the window; None without any.
pub fn quantile<'a>(
    points: impl IntoIterator<Item = &'a Point>,
    q: f64,
    window: Window,
) -> Option<f64> {
    let merged = inside(points, window).fold(Histogram::empty(), |acc, v| match v {
        PointValue::Histogram(h) => acc.merge(h),
        _ => acc,
    });
    merged.quantile(q)
}

/// The mean of every gauge reading in the window; None without any.
pub fn average<'a>(points: impl IntoIterator<Item = &'a Point>, window: Window) -> Option<f64> {
    let (count, sum) = inside(points, window).fold((0i64, 0f64), |(c, s), v| match v {
        PointValue::Gauge { count, sum } => (c + count, s + sum),
        _ => (c, s),
    });
    (count > 0).then(|| sum / count as f64)
}

#[cfg(test)]
mod tests {
    use super::super::histogram::Bucket;
    use super::*;

    fn t(minute: i64) -> DateTime<Utc> {
        "2030-06-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::minutes(minute)
    }

    fn counter(minute: i64, n: i64) -> Point {
        Point {
            at: t(minute),
            value: PointValue::Counter(n),
        }
    }

    /// Minutes 0..10 before the end at minute 10.
    fn last_ten() -> Window {
        Window::ending(t(10), 600)
    }

    #[test]
    fn rate_counts_only_the_window() {
        let points = [
            counter(-1, 1000),
            counter(0, 60),
            counter(9, 60),
            counter(10, 999),
        ];
        assert_eq!(total(&points, last_ten()), 120);
        assert!((rate(&points, last_ten()) - 0.2).abs() < 1e-9);
        assert_eq!(rate(&[], last_ten()), 0.0);
    }

    #[test]
    fn ratio_of_errors_over_requests() {
        let errors = [counter(1, 3), counter(2, 2)];
        let requests = [counter(1, 50), counter(2, 50), counter(30, 1000)];
        assert_eq!(ratio(&errors, &requests, last_ten()), Some(0.05));
        assert_eq!(ratio(&errors, &[], last_ten()), None);
    }

    #[test]
    fn quantiles_merge_every_histogram_in_the_window() {
        let histogram = |minute, fast, count| Point {
            at: t(minute),
            value: PointValue::Histogram(
                Histogram::new(
                    count,
                    0.0,
                    vec![Bucket {
                        le: 0.1,
                        count: fast,
                    }],
                )
                .unwrap(),
            ),
        };
        // 10 fast and 10 slow in the window; the slow ones fall in +Inf.
        let points = [
            histogram(1, 10, 10),
            histogram(2, 0, 10),
            histogram(20, 0, 500),
        ];
        assert!((quantile(&points, 0.5, last_ten()).unwrap() - 0.1).abs() < 1e-9);
        assert!((quantile(&points, 0.25, last_ten()).unwrap() - 0.05).abs() < 1e-9);
        assert_eq!(quantile(&points, 0.99, last_ten()), Some(0.1));
        assert_eq!(quantile(&points[2..], 0.5, last_ten()), None);
    }

    #[test]
    fn average_weighs_every_reading() {
        let gauge = |minute, count, sum| Point {
            at: t(minute),
            value: PointValue::Gauge { count, sum },
        };
        let points = [gauge(0, 1, 10.0), gauge(5, 3, 6.0), gauge(11, 1, 1000.0)];
        assert_eq!(average(&points, last_ten()), Some(4.0));
        assert_eq!(average(&[], last_ten()), None);
    }
}
