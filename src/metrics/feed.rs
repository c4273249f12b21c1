//! How the feed keeps up with the database: how long rebuilds take, and when the watcher last
//! read the database successfully (the age that grows when a replica cannot reach it and serves
//! its last snapshot).

use super::histogram::Histogram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

static REBUILDS: Histogram = Histogram::new();
/// Nanoseconds after [`base`] of the last successful refresh, plus one (0: never).
static REFRESHED: AtomicU64 = AtomicU64::new(0);

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// One rebuild pass: from reading what changed to the new snapshots swapped in.
pub fn rebuilt(took: Duration) {
    REBUILDS.observe(took);
}

pub fn rebuilds() -> &'static Histogram {
    &REBUILDS
}

/// The watcher read the audit head and built everything up to it.
pub fn refreshed() {
    let since = u64::try_from(base().elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
    REFRESHED.store(since + 1, Ordering::Relaxed);
}

/// How long ago the last successful refresh was; None before the first.
pub fn since_refresh() -> Option<Duration> {
    let at = REFRESHED.load(Ordering::Relaxed).checked_sub(1)?;
    Some(base().elapsed().saturating_sub(Duration::from_nanos(at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_age_starts_at_the_refresh() {
        refreshed();
        let age = since_refresh().expect("refreshed");
        assert!(age < Duration::from_secs(60), "{age:?}");
    }
}
