//! Where a flag is in its life, now and over time. Stages carry Unleash's names, so imports
//! map: `initial` (never switched on anywhere), `pre-live` (on in an unprotected environment, or
//! on somewhere before and off everywhere now), `live` (on in a protected environment, or
//! stopped there by the emergency kill: the caller counts a killed environment as on),
//! `completed` (an owner marked it done), `archived`. Pure: the history comes in.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Initial,
    PreLive,
    Live,
    Completed,
    Archived,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Initial,
        Stage::PreLive,
        Stage::Live,
        Stage::Completed,
        Stage::Archived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Initial => "initial",
            Stage::PreLive => "pre-live",
            Stage::Live => "live",
            Stage::Completed => "completed",
            Stage::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Stage::Initial => "Initial: not switched on in any environment yet",
            Stage::PreLive => "Pre-live: on in a test environment, not in a protected one",
            Stage::Live => {
                "Live: on in a protected (production) environment, or stopped there by the kill switch"
            }
            Stage::Completed => "Completed: its owner marked it done; remove it from the code",
            Stage::Archived => "Archived: retired; it no longer appears in any feed",
        }
    }
}

/// What decides the stage now.
#[derive(Debug, Clone, Copy, Default)]
pub struct Now<'a> {
    pub archived: bool,
    pub completed: bool,
    /// Whether the flag was ever switched on anywhere.
    pub ever_on: bool,
    /// (on, protected) for each environment.
    pub environments: &'a [(bool, bool)],
}

pub fn current(n: Now<'_>) -> Stage {
    if n.archived {
        Stage::Archived
    } else if n.completed {
        Stage::Completed
    } else if n
        .environments
        .iter()
        .any(|(on, protected)| *on && *protected)
    {
        Stage::Live
    } else if n.ever_on || n.environments.iter().any(|(on, _)| *on) {
        Stage::PreLive
    } else {
        Stage::Initial
    }
}

/// One thing in a flag's audited history that can move its stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Created,
    /// Switched on or off in an environment (an emergency kill is not one: the flag stays where
    /// it was in its life).
    Switched {
        environment: String,
        on: bool,
    },
    Archived,
    /// Revived flags come back off everywhere.
    Revived,
    Completed,
    Reopened,
}

/// A stage as the timeline shows it: when it was entered, and how long the flag stayed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub stage: Stage,
    #[serde(serialize_with = "as_stamp")]
    pub entered_at: DateTime<Utc>,
    /// Whole days spent in it, up to the next stage or `now`.
    pub days: i64,
}

/// Times travel as everywhere else in the API (`crate::clock::stamp`).
fn as_stamp<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::clock::stamp(*t))
}

/// The stages the flag went through, oldest first; a stage re-entered is a new span. `events`
/// are in time order; `protected` names the protected environments.
pub fn timeline(
    events: &[(DateTime<Utc>, Event)],
    protected: &HashSet<String>,
    now: DateTime<Utc>,
) -> Vec<Span> {
    let mut on: BTreeMap<String, bool> = BTreeMap::new();
    let (mut archived, mut completed, mut ever_on) = (false, false, false);
    let mut spans: Vec<Span> = Vec::new();
    for (at, event) in events {
        match event {
            Event::Created => {}
            Event::Switched { environment, on: o } => {
                on.insert(environment.clone(), *o);
                ever_on |= *o;
            }
            Event::Archived => archived = true,
            Event::Revived => {
                archived = false;
                on.clear();
            }
            Event::Completed => completed = true,
            Event::Reopened => completed = false,
        }
        let envs: Vec<(bool, bool)> = on
            .iter()
            .map(|(env, o)| (*o, protected.contains(env)))
            .collect();
        let stage = current(Now {
            archived,
            completed,
            ever_on,
            environments: &envs,
        });
        if spans.last().map(|s| s.stage) != Some(stage) {
            spans.push(Span {
                stage,
                entered_at: *at,
                days: 0,
            });
        }
    }
    let ends: Vec<DateTime<Utc>> = spans
        .iter()
        .skip(1)
        .map(|s| s.entered_at)
        .chain(std::iter::once(now))
        .collect();
    for (span, end) in spans.iter_mut().zip(ends) {
        span.days = (end - span.entered_at).num_days().max(0);
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn day(n: i64) -> DateTime<Utc> {
        crate::clock::parse_stamp("2026-01-01T00:00:00Z").unwrap() + Duration::days(n)
    }

    fn switch(env: &str, on: bool) -> Event {
        Event::Switched {
            environment: env.into(),
            on,
        }
    }

    fn stages(spans: &[Span]) -> Vec<(&'static str, i64)> {
        spans.iter().map(|s| (s.stage.as_str(), s.days)).collect()
    }

    #[test]
    fn the_current_stage_follows_the_environments_and_the_marks() {
        let now = |archived, completed, ever_on, envs: &[(bool, bool)]| {
            current(Now {
                archived,
                completed,
                ever_on,
                environments: envs,
            })
        };
        assert_eq!(
            now(false, false, false, &[(false, false), (false, true)]),
            Stage::Initial
        );
        assert_eq!(
            now(false, false, true, &[(true, false), (false, true)]),
            Stage::PreLive
        );
        assert_eq!(
            now(false, false, true, &[(false, false), (false, true)]),
            Stage::PreLive
        );
        assert_eq!(
            now(false, false, true, &[(true, false), (true, true)]),
            Stage::Live
        );
        assert_eq!(now(false, true, true, &[(true, true)]), Stage::Completed);
        assert_eq!(now(true, true, true, &[(true, true)]), Stage::Archived);
    }

    #[test]
    fn a_history_becomes_stages_with_days_and_reentries_count_again() {
        let protected = HashSet::from(["production".to_string()]);
        let events = vec![
            (day(0), Event::Created),
            (day(2), switch("development", true)),
            (day(5), switch("production", true)),
            (day(9), switch("production", false)),
            (day(12), switch("production", true)),
            (day(20), Event::Completed),
            (day(21), Event::Reopened),
            (day(30), Event::Archived),
            (day(31), Event::Revived),
        ];
        let spans = timeline(&events, &protected, day(40));
        assert_eq!(
            stages(&spans),
            [
                ("initial", 2),
                ("pre-live", 3),
                ("live", 4),
                ("pre-live", 3),
                ("live", 8),
                ("completed", 1),
                ("live", 9),
                ("archived", 1),
                // Revived: off everywhere, but it was on before.
                ("pre-live", 9),
            ]
        );
        assert_eq!(spans[2].entered_at, day(5));
    }

    #[test]
    fn switches_that_change_nothing_add_no_span() {
        let protected = HashSet::new();
        let events = vec![
            (day(0), Event::Created),
            (day(1), switch("development", true)),
            (day(2), switch("staging", true)),
            (day(3), switch("development", false)),
        ];
        assert_eq!(
            stages(&timeline(&events, &protected, day(4))),
            [("initial", 1), ("pre-live", 3)]
        );
    }
}
