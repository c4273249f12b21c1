//! A test clock: the server reads "now" from a file (`SWITCHYARD_TEST_CLOCK_FILE`), which a test
//! moves by days or hours from a fixed start.

use chrono::{DateTime, Duration, Utc};
use std::path::PathBuf;

pub struct TestClock {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    pub start: DateTime<Utc>,
}

impl TestClock {
    /// Starts at `start` (RFC 3339).
    pub fn at(start: &str) -> TestClock {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("now");
        let start = super::parse_time(start);
        std::fs::write(&path, start.to_rfc3339()).unwrap();
        TestClock {
            _dir: dir,
            path,
            start,
        }
    }

    pub fn day(&self, n: i64) -> DateTime<Utc> {
        self.start + Duration::days(n)
    }

    /// Written beside and renamed over, so the server never reads a half-written file (it
    /// would fall back to the system time for that read).
    pub fn set(&self, t: DateTime<Utc>) {
        let next = self.path.with_extension("next");
        std::fs::write(&next, t.to_rfc3339()).unwrap();
        std::fs::rename(&next, &self.path).unwrap();
    }

    pub fn set_day(&self, n: i64) {
        self.set(self.day(n));
    }

    /// The server's environment variable pointing at this clock.
    pub fn env(&self) -> (&'static str, &str) {
        ("SWITCHYARD_TEST_CLOCK_FILE", self.path.to_str().unwrap())
    }
}
