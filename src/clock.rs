//! Time as a dependency, so rules that depend on "now" can be tested without sleeping.

use chrono::{DateTime, SecondsFormat, Utc};
use std::sync::Arc;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place the system time is read
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// For tests of time-driven behaviour across processes: the time written (RFC 3339) in a file,
/// or the system time while the file is missing or unreadable. `switchyard serve` uses it only
/// when `SWITCHYARD_TEST_CLOCK_FILE` names the file.
pub struct FileClock {
    path: std::path::PathBuf,
}

impl FileClock {
    pub const ENV: &'static str = "SWITCHYARD_TEST_CLOCK_FILE";

    pub fn new(path: impl Into<std::path::PathBuf>) -> Self {
        FileClock { path: path.into() }
    }
}

impl Clock for FileClock {
    fn now(&self) -> DateTime<Utc> {
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|s| parse_stamp(s.trim()))
            .unwrap_or_else(|| SystemClock.now())
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// The system clock, or a [`FileClock`] when `SWITCHYARD_TEST_CLOCK_FILE` is set.
pub fn from_env() -> SharedClock {
    match std::env::var_os(FileClock::ENV) {
        Some(path) if !path.is_empty() => Arc::new(FileClock::new(path)),
        _ => Arc::new(SystemClock),
    }
}

/// The one textual form timestamps take in the database: sortable and portable.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_stamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_clock_reads_its_file_and_falls_back_to_the_system_time() {
        let dir = std::env::temp_dir().join(format!("sy-clock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("now");
        let clock = FileClock::new(&file);
        let before = SystemClock.now();
        assert!(clock.now() >= before);
        std::fs::write(&file, "2031-02-03T04:05:06Z\n").unwrap();
        assert_eq!(stamp(clock.now()), "2031-02-03T04:05:06.000Z");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
