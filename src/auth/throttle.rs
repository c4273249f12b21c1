//! Login throttling per account and per client address, in memory.
//!
//! A sliding window of failures: once a key has `burst` failures within `window`, further attempts
//! are refused (429 with Retry-After) before any password hashing happens. The map is capped so a
//! flood of distinct keys cannot grow memory without bound.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Throttle {
    burst: usize,
    window: Duration,
    capacity: usize,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Throttle {
    pub fn new(burst: usize, window: Duration) -> Self {
        Throttle {
            burst,
            window,
            capacity: 100_000,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds)` when the key must wait that long before trying again.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), u64> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let Some(times) = map.get_mut(key) else {
            return Ok(());
        };
        prune(times, now, self.window);
        if times.len() >= self.burst {
            let oldest = times.front().copied().unwrap_or(now);
            let wait = self.window.saturating_sub(now.duration_since(oldest));
            return Err(wait.as_secs().max(1));
        }
        Ok(())
    }

    pub fn record_failure(&self, key: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.capacity && !map.contains_key(key) {
            let window = self.window;
            map.retain(|_, t| {
                prune(t, now, window);
                !t.is_empty()
            });
            if map.len() >= self.capacity {
                return;
            }
        }
        let times = map.entry(key.to_string()).or_default();
        prune(times, now, self.window);
        times.push_back(now);
    }

    pub fn clear(&self, key: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(key);
    }
}

fn prune(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_the_burst_until_the_window_passes() {
        let t = Throttle::new(3, Duration::from_secs(60));
        let start = Instant::now();
        for _ in 0..3 {
            assert!(t.check("a", start).is_ok());
            t.record_failure("a", start);
        }
        let wait = t.check("a", start).unwrap_err();
        assert_eq!(wait, 60);
        assert!(t.check("b", start).is_ok());
        assert!(t.check("a", start + Duration::from_secs(61)).is_ok());
    }
}
