//! How the web app writes times and sentences.

use crate::clock::parse_stamp;

/// "2026-11-24 23:50" from a stored timestamp.
pub fn short_time(stamp: &str) -> String {
    match parse_stamp(stamp) {
        Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        None => stamp.to_string(),
    }
}
