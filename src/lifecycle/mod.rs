//! Where a flag is in its life, and why it might be stale: pure rules over the evidence that
//! the stores gather (`stage`, `stale`).

pub mod assess;
pub mod job;
pub mod marks;
pub mod stage;
pub mod stale;
pub mod store;

pub use stage::Stage;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// (enabled, environment protected) for each environment of the flag.
pub fn stage(archived: bool, envs: &[(bool, bool)]) -> Stage {
    if archived {
        Stage::Archived
    } else if envs.iter().any(|(on, protected)| *on && *protected) {
        Stage::Live
    } else if envs.iter().any(|(on, _)| *on) {
        Stage::PreLive
    } else {
        Stage::Initial
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StaleReason {
    pub code: &'static str,
    pub message: String,
}

/// A flag outlives its type's expected lifetime: the first sign it should be cleaned up.
pub fn stale_reasons(
    created_at: DateTime<Utc>,
    lifetime_days: Option<i64>,
    archived: bool,
    now: DateTime<Utc>,
) -> Vec<StaleReason> {
    let mut reasons = Vec::new();
    if archived {
        return reasons;
    }
    if let Some(days) = lifetime_days {
        let age = now - created_at;
        if age > Duration::days(days) {
            reasons.push(StaleReason {
                code: "past-expected-lifetime",
                message: format!(
                    "{} days old; flags of this type are expected to live {days} days",
                    age.num_days()
                ),
            });
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_follow_the_environments() {
        assert_eq!(
            stage(false, &[(false, false), (false, true)]),
            Stage::Initial
        );
        assert_eq!(
            stage(false, &[(true, false), (false, true)]),
            Stage::PreLive
        );
        assert_eq!(stage(false, &[(true, false), (true, true)]), Stage::Live);
        assert_eq!(stage(true, &[(true, true)]), Stage::Archived);
    }

    #[test]
    fn overdue_flags_have_a_reason() {
        let now = crate::clock::parse_stamp("2026-06-01T00:00:00Z").unwrap();
        assert!(stale_reasons(now - Duration::days(41), Some(40), false, now).len() == 1);
        assert!(stale_reasons(now - Duration::days(39), Some(40), false, now).is_empty());
        assert!(stale_reasons(now - Duration::days(400), None, false, now).is_empty());
    }
}
