//! How the web app writes times and sentences.

use crate::clock::parse_stamp;
use chrono::{DateTime, Utc};

/// "2026-11-24 23:50" from a stored timestamp.
pub fn short_time(stamp: &str) -> String {
    match parse_stamp(stamp) {
        Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        None => stamp.to_string(),
    }
}

/// "2026-11-24" from a stored timestamp, for narrow columns (the full time goes in a title).
pub fn short_date(stamp: &str) -> String {
    match parse_stamp(stamp) {
        Some(t) => t.format("%Y-%m-%d").to_string(),
        None => stamp.to_string(),
    }
}

/// How long before `now` a stored time was, coarsely: "within the hour", "5 h ago", "3 d ago";
/// past two months, the date.
pub fn ago(stamp: &str, now: DateTime<Utc>) -> String {
    let Some(t) = parse_stamp(stamp) else {
        return stamp.to_string();
    };
    let hours = (now - t).num_hours();
    match hours {
        h if h < 1 => "within the hour".to_string(),
        h if h < 48 => format!("{h} h ago"),
        h if h < 24 * 60 => format!("{} d ago", h / 24),
        _ => short_date(stamp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_coarsely() {
        let now = parse_stamp("2026-12-06T12:30:00.000Z").unwrap();
        assert_eq!(ago("2026-12-06T12:00:00.000Z", now), "within the hour");
        assert_eq!(ago("2026-12-06T07:00:00.000Z", now), "5 h ago");
        assert_eq!(ago("2026-12-01T12:00:00.000Z", now), "5 d ago");
        assert_eq!(ago("2026-01-01T12:00:00.000Z", now), "2026-01-01");
        assert_eq!(short_date("2026-01-01T12:00:00.000Z"), "2026-01-01");
    }
}
