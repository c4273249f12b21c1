//! What one SDK report may add to the database: a bucket's hour near now, bounded counts, a
//! few variant names per flag, and each token's allowance of posts per minute.

use super::Bucket;
use crate::clock::stamp;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// A bucket may start this long before now (SDKs resend what failed, for a while)...
pub const EARLIEST: TimeDelta = TimeDelta::days(2);
/// ...and this long after (clocks drift).
pub const LATEST: TimeDelta = TimeDelta::hours(1);
/// The largest count a bucket may carry for one flag (or variant): a billion evaluations in one
/// SDK interval is far past any real application.
pub const MAX_COUNT: i64 = 1_000_000_000;
/// Variant names counted per flag and bucket; more are dropped.
pub const MAX_VARIANTS: usize = 32;
/// Metric and registration posts each token may make per minute unless configured.
pub const DEFAULT_POSTS_PER_MINUTE: u32 = 6_000;

/// Drops counts of unknown flags and extra variants; refuses a bucket far from `now` or with an
/// impossible count.
pub fn bound(
    bucket: &mut Bucket,
    known: impl Fn(&str) -> bool,
    now: DateTime<Utc>,
) -> Result<(), String> {
    if let Some(start) = bucket.start {
        if start < now - EARLIEST || start > now + LATEST {
            return Err(format!(
                "the bucket's hour ({}) is not within two days before and an hour after now",
                stamp(start)
            ));
        }
    }
    bucket.toggles.retain(|flag, _| known(flag));
    for (flag, c) in &mut bucket.toggles {
        let counts = [c.yes, c.no]
            .into_iter()
            .chain(c.variants.values().copied());
        if counts.into_iter().any(|n| !(0..=MAX_COUNT).contains(&n)) {
            return Err(format!(
                "a count for {flag} is not between 0 and {MAX_COUNT} (one bucket's evaluations)"
            ));
        }
        if c.variants.len() > MAX_VARIANTS {
            let mut names: Vec<String> = c.variants.keys().cloned().collect();
            names.sort();
            for extra in &names[MAX_VARIANTS..] {
                c.variants.remove(extra);
            }
        }
    }
    Ok(())
}

/// A token bucket per API token: `capacity` posts at once, refilled evenly over a minute.
/// Only tokens that authenticated reach it, so it holds at most one entry per real token.
pub struct Limiter {
    capacity: f64,
    per_second: f64,
    buckets: Mutex<HashMap<i64, (f64, std::time::Instant)>>,
}

impl Limiter {
    pub fn per_minute(posts: u32) -> Limiter {
        let capacity = f64::from(posts.max(1));
        Limiter {
            capacity,
            per_second: capacity / 60.0,
            buckets: Mutex::default(),
        }
    }

    /// Takes one post from `token`'s allowance, or says how long until one is free.
    pub fn admit(&self, token: i64, now: std::time::Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (left, at) = buckets.entry(token).or_insert((self.capacity, now));
        let refill = now.saturating_duration_since(*at).as_secs_f64() * self.per_second;
        *left = (*left + refill).min(self.capacity);
        *at = now;
        if *left >= 1.0 {
            *left -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *left) / self.per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::usage::ToggleCount;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn toggles(pairs: &[(&str, i64)]) -> HashMap<String, ToggleCount> {
        pairs
            .iter()
            .map(|(f, n)| {
                let count = ToggleCount {
                    yes: *n,
                    ..ToggleCount::default()
                };
                (f.to_string(), count)
            })
            .collect()
    }

    #[test]
    fn unknown_flags_are_dropped_and_far_hours_or_absurd_counts_refused() {
        let now = at("2030-06-01T12:00:00Z");
        let known = |f: &str| f == "real";
        let mut b = Bucket {
            start: Some(now),
            toggles: toggles(&[("real", 3), ("invented", 1)]),
        };
        assert_eq!(bound(&mut b, known, now), Ok(()));
        assert_eq!(b.toggles.keys().collect::<Vec<_>>(), ["real"]);
        for start in [
            "2030-05-30T11:59:00Z",
            "2030-06-01T13:01:00Z",
            "1000-01-01T00:00:00Z",
        ] {
            let mut b = Bucket {
                start: Some(at(start)),
                toggles: toggles(&[("real", 1)]),
            };
            assert!(bound(&mut b, known, now).is_err(), "{start}");
        }
        for n in [-1, MAX_COUNT + 1] {
            let mut b = Bucket {
                start: Some(now),
                toggles: toggles(&[("real", n)]),
            };
            assert!(bound(&mut b, known, now).is_err(), "{n}");
        }
        // An absurd count of an unknown flag is dropped with it, not refused.
        let mut b = Bucket {
            start: Some(now - TimeDelta::hours(47)),
            toggles: toggles(&[("real", MAX_COUNT), ("invented", i64::MAX)]),
        };
        assert_eq!(bound(&mut b, known, now), Ok(()));
    }

    #[test]
    fn variant_names_are_capped() {
        let now = at("2030-06-01T12:00:00Z");
        let mut count = ToggleCount::default();
        for i in 0..100 {
            count.variants.insert(format!("v{i:03}"), 1);
        }
        let mut b = Bucket {
            start: None,
            toggles: HashMap::from([("real".to_string(), count)]),
        };
        bound(&mut b, |_| true, now).unwrap();
        assert_eq!(b.toggles["real"].variants.len(), MAX_VARIANTS);
    }

    #[test]
    fn the_limiter_spends_then_refills_per_token() {
        let limiter = Limiter::per_minute(3);
        let t0 = std::time::Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.admit(1, t0), Ok(()));
        }
        let wait = limiter.admit(1, t0).unwrap_err();
        assert!(
            wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert_eq!(
            limiter.admit(2, t0),
            Ok(()),
            "another token is not affected"
        );
        assert_eq!(limiter.admit(1, t0 + Duration::from_secs(20)), Ok(()));
        assert!(limiter.admit(1, t0 + Duration::from_secs(20)).is_err());
    }
}
