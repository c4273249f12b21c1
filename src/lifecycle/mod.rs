//! Where a flag is in its life, and why it might be stale. Pure rules; the evidence comes in.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Created, not switched on anywhere yet.
    Initial,
    /// On in some environment, not in a protected (production-like) one.
    PreLive,
    /// On in a protected environment.
    Live,
    Archived,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Initial => "initial",
            Stage::PreLive => "pre-live",
            Stage::Live => "live",
            Stage::Archived => "archived",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Stage::Initial => "Initial: not switched on in any environment yet",
            Stage::PreLive => "Pre-live: on in a test environment, not yet in a protected one",
            Stage::Live => "Live: on in a protected (production) environment",
            Stage::Archived => "Archived: retired; it no longer appears in any feed",
        }
    }
}

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
