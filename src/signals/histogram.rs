//! Histograms as Unleash impact metrics send them: a count, a sum and cumulative buckets
//! (`le` upper bounds, the last `+Inf`); merging two of them, and quantiles from the buckets.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    pub count: i64,
    pub sum: f64,
    /// Strictly increasing bounds, the last one infinite; counts cumulative.
    pub buckets: Vec<Bucket>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    #[serde(with = "le_text")]
    pub le: f64,
    pub count: i64,
}

/// `+Inf` is written as text, as the impact-metrics contract says.
mod le_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(le: &f64, s: S) -> Result<S::Ok, S::Error> {
        if le.is_infinite() {
            s.serialize_str("+Inf")
        } else {
            s.serialize_f64(*le)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Le {
            Number(f64),
            Text(String),
        }
        match Le::deserialize(d)? {
            Le::Number(n) => Ok(n),
            Le::Text(t) if t == "+Inf" => Ok(f64::INFINITY),
            Le::Text(t) => Err(serde::de::Error::custom(format!("bad le {t:?}"))),
        }
    }
}

impl Histogram {
    /// Checks what a sender gave; appends the `+Inf` bucket when it is missing.
    pub fn new(count: i64, sum: f64, mut buckets: Vec<Bucket>) -> Result<Histogram, String> {
        if buckets.is_empty() {
            return Err("a histogram needs at least one bucket".into());
        }
        if buckets.last().is_some_and(|b| b.le.is_finite()) {
            buckets.push(Bucket {
                le: f64::INFINITY,
                count,
            });
        }
        for pair in buckets.windows(2) {
            if pair[1].le <= pair[0].le {
                return Err("bucket bounds (le) must increase".into());
            }
            if pair[1].count < pair[0].count {
                return Err("bucket counts must be cumulative (never decreasing)".into());
            }
        }
        if buckets.last().map(|b| b.count) != Some(count) {
            return Err(
                "the +Inf bucket must hold every observation (its count equals count)".into(),
            );
        }
        Ok(Histogram {
            count,
            sum,
            buckets,
        })
    }

    pub fn empty() -> Histogram {
        Histogram {
            count: 0,
            sum: 0.0,
            buckets: vec![Bucket {
                le: f64::INFINITY,
                count: 0,
            }],
        }
    }

    /// Observations at or below `le`, as far as these buckets tell: the count of the largest
    /// bound not above it (a lower bound when `le` falls between two of ours).
    fn at_most(&self, le: f64) -> i64 {
        self.buckets
            .iter()
            .take_while(|b| b.le <= le)
            .last()
            .map_or(0, |b| b.count)
    }

    /// Both histograms in one. With the same bounds this is exact; otherwise the union of the
    /// bounds is kept and each side counts what it knows at each bound.
    /// An empty side (SDKs send one after a quiet interval) changes nothing, bounds included.
    pub fn merge(&self, other: &Histogram) -> Histogram {
        if other.count == 0 {
            return self.clone();
        }
        if self.count == 0 {
            return other.clone();
        }
        let mut bounds: Vec<f64> = self
            .buckets
            .iter()
            .chain(&other.buckets)
            .map(|b| b.le)
            .collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        let buckets = bounds
            .into_iter()
            .map(|le| Bucket {
                le,
                count: self.at_most(le) + other.at_most(le),
            })
            .collect();
        Histogram {
            count: self.count + other.count,
            sum: self.sum + other.sum,
            buckets,
        }
    }

    /// Adds `other` into this one: in place when the bounds are the same (an SDK sends the same
    /// buckets every time), else as [`merge`](Self::merge).
    pub fn absorb(&mut self, other: &Histogram) {
        let same_bounds = self.buckets.len() == other.buckets.len()
            && self
                .buckets
                .iter()
                .zip(&other.buckets)
                .all(|(a, b)| a.le == b.le);
        if !same_bounds || self.count == 0 || other.count == 0 {
            *self = self.merge(other);
            return;
        }
        self.count += other.count;
        self.sum += other.sum;
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            a.count += b.count;
        }
    }

    /// The `q` quantile (0..=1), interpolated linearly inside the bucket it falls in, as
    /// Prometheus' `histogram_quantile` does: the first bucket starts at 0 (or at its bound when
    /// that is negative), and a quantile in the `+Inf` bucket is the largest finite bound.
    /// None without observations.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count <= 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        let rank = q * self.count as f64;
        let mut lower = (0.0f64, 0i64);
        for b in &self.buckets {
            if (b.count as f64) >= rank && b.count > 0 {
                if b.le.is_infinite() {
                    return Some(self.largest_finite().unwrap_or(lower.0));
                }
                let start = if lower.1 == 0 && lower.0 == 0.0 {
                    0.0f64.min(b.le)
                } else {
                    lower.0
                };
                let in_bucket = (b.count - lower.1) as f64;
                let into = (rank - lower.1 as f64).max(0.0);
                return Some(start + (b.le - start) * into / in_bucket);
            }
            lower = (b.le, b.count);
        }
        self.largest_finite()
    }

    fn largest_finite(&self) -> Option<f64> {
        self.buckets
            .iter()
            .rev()
            .map(|b| b.le)
            .find(|le| le.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(count: i64, bounds: &[(f64, i64)]) -> Histogram {
        let buckets = bounds
            .iter()
            .map(|(le, count)| Bucket {
                le: *le,
                count: *count,
            })
            .collect();
        Histogram::new(count, 0.0, buckets).unwrap()
    }

    #[test]
    fn quantiles_interpolate_inside_the_bucket() {
        // 100 observations: 50 up to 0.1, 35 more up to 0.5, 10 more up to 1, 5 above.
        let x = h(100, &[(0.1, 50), (0.5, 85), (1.0, 95)]);
        assert!((x.quantile(0.5).unwrap() - 0.1).abs() < 1e-9);
        // p25 is halfway through the first bucket, which starts at 0.
        assert!((x.quantile(0.25).unwrap() - 0.05).abs() < 1e-9);
        // p90: rank 90 is 5 of the 10 between 0.5 and 1.
        assert!((x.quantile(0.9).unwrap() - 0.75).abs() < 1e-9);
        // p99 falls in +Inf: the largest finite bound.
        assert_eq!(x.quantile(0.99), Some(1.0));
        assert_eq!(Histogram::empty().quantile(0.5), None);
    }

    #[test]
    fn merging_adds_counts_at_every_bound() {
        let a = h(10, &[(0.1, 4), (1.0, 9)]);
        let b = h(6, &[(0.1, 1), (1.0, 6)]);
        let m = a.merge(&b);
        assert_eq!(m, h(16, &[(0.1, 5), (1.0, 15)]));
        // Different bounds: each side counts what it knows.
        let c = h(2, &[(0.5, 1)]);
        let m = a.merge(&c);
        let counts: Vec<(f64, i64)> = m.buckets.iter().map(|b| (b.le, b.count)).collect();
        assert_eq!(counts, [(0.1, 4), (0.5, 5), (1.0, 10), (f64::INFINITY, 12)]);
        assert_eq!(m.count, 12);
        // Absorbing in place gives what merging gives, with the same bounds or not.
        for other in [&b, &c, &Histogram::empty()] {
            let mut x = a.clone();
            x.absorb(other);
            assert_eq!(x, a.merge(other));
        }
    }

    #[test]
    fn buckets_serialise_inf_as_text() {
        let x = h(1, &[(0.5, 1)]);
        let text = serde_json::to_string(&x.buckets).unwrap();
        assert_eq!(text, r#"[{"le":0.5,"count":1},{"le":"+Inf","count":1}]"#);
        let back: Vec<Bucket> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, x.buckets);
    }
}
