//! A duration histogram of atomics: observing takes no lock, reading adds the buckets up.

use super::exposition::HistogramValues;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds in seconds: from a few milliseconds (a one-flag change) to the tens of seconds
/// a first load of a very large instance may take.
pub const DURATION_BOUNDS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

pub struct Histogram {
    /// Observations per bucket (not cumulative); the last one is above every bound.
    counts: [AtomicU64; DURATION_BOUNDS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    pub const fn new() -> Self {
        Histogram {
            counts: [const { AtomicU64::new(0) }; DURATION_BOUNDS.len() + 1],
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = DURATION_BOUNDS
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(DURATION_BOUNDS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The count is the buckets' total, so `le="+Inf"` always equals `_count` even while
    /// observations arrive.
    pub fn values(&self) -> HistogramValues {
        let mut running = 0;
        let mut buckets = Vec::with_capacity(DURATION_BOUNDS.len());
        for (le, count) in DURATION_BOUNDS.iter().zip(&self.counts) {
            running += count.load(Ordering::Relaxed);
            buckets.push((*le, running));
        }
        let count = running + self.counts[DURATION_BOUNDS.len()].load(Ordering::Relaxed);
        HistogramValues {
            buckets,
            sum: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
            count,
        }
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_the_count_includes_the_slowest() {
        let h = Histogram::new();
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_millis(10));
        h.observe(Duration::from_millis(300));
        h.observe(Duration::from_secs(60));
        let v = h.values();
        let at = |le: f64| v.buckets.iter().find(|(b, _)| *b == le).unwrap().1;
        assert_eq!(at(0.005), 1);
        assert_eq!(at(0.01), 2, "a bound is inclusive");
        assert_eq!(at(0.25), 2);
        assert_eq!(at(0.5), 3);
        assert_eq!(at(30.0), 3);
        assert_eq!(v.count, 4);
        assert!((v.sum - 60.313).abs() < 1e-9, "{}", v.sum);
    }
}
