//! A release plan as approved (template, milestones with the project's segment ids, guards,
//! what a breach does) and its state machine. Pure.
//!
//! ```text
//!             advance (last milestone)
//!   running ───────────────────────────────► completed
//!    │  ▲  ╲ guard breached                     ▲
//!    │  │   ╲──────────────► rolled-back        │ advance
//!  pause resume              │  (stays stopped  │ (last)
//!    ▼  │                    │   until resumed) │
//!   paused ─── guard breached ┘◄───────────── paused
//!   any state in progress ── cancel ──► cancelled (the flag keeps what it serves)
//! ```

use super::guard::Guard;
use super::template::Milestone;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Running,
    Paused,
    RolledBack,
    Completed,
    Cancelled,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Paused => "paused",
            State::RolledBack => "rolled-back",
            State::Completed => "completed",
            State::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> State {
        [
            State::Running,
            State::Paused,
            State::RolledBack,
            State::Completed,
            State::Cancelled,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
        .unwrap_or(State::Cancelled)
    }

    pub fn in_progress(self) -> bool {
        matches!(self, State::Running | State::Paused | State::RolledBack)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnBreach {
    /// Back to the milestone before the current one (off from the first).
    #[default]
    Previous,
    Off,
}

impl OnBreach {
    pub fn as_str(self) -> &'static str {
        match self {
            OnBreach::Previous => "previous",
            OnBreach::Off => "off",
        }
    }
}

/// The plan as a change request carries it and as it is stored: everything it will do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanDraft {
    pub template_key: String,
    pub template_name: String,
    /// Segments by name already resolved to the project's ids.
    pub milestones: Vec<Milestone>,
    #[serde(default)]
    pub guards: Vec<Guard>,
    #[serde(default)]
    pub on_breach: OnBreach,
    #[serde(default)]
    pub auto_advance: bool,
}

/// A person's (or the job's) move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Advance,
    Pause,
    Resume,
    Cancel,
}

/// Where a move leads from `state` at milestone `at` of `count`, or why it cannot.
pub fn decide(state: State, m: Move, at: usize, count: usize) -> Result<(State, usize), String> {
    let last = count.saturating_sub(1);
    match (m, state) {
        (Move::Advance, State::Running | State::Paused) if at >= last => {
            Ok((State::Completed, last))
        }
        (Move::Advance, State::Running | State::Paused) => Ok((state, at + 1)),
        (Move::Advance, State::RolledBack) => {
            Err("the plan was rolled back: resume it before advancing".into())
        }
        (Move::Pause, State::Running) => Ok((State::Paused, at)),
        (Move::Pause, State::Paused) => Err("the plan is already paused".into()),
        (Move::Resume, State::Paused | State::RolledBack) => Ok((State::Running, at)),
        (Move::Resume, State::Running) => Err("the plan is already running".into()),
        (Move::Cancel, s) if s.in_progress() => Ok((State::Cancelled, at)),
        (_, s) => Err(format!("the plan is {}", s.as_str())),
    }
}

/// What a breach leaves the flag serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    Milestone(usize),
    Off,
}

pub fn fallback(on_breach: OnBreach, at: usize) -> Fallback {
    match (on_breach, at) {
        (OnBreach::Previous, at) if at > 0 => Fallback::Milestone(at - 1),
        _ => Fallback::Off,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_move_in_every_state() {
        use Move::*;
        use State::*;
        assert_eq!(decide(Running, Advance, 0, 3), Ok((Running, 1)));
        assert_eq!(decide(Paused, Advance, 1, 3), Ok((Paused, 2)));
        assert_eq!(decide(Running, Advance, 2, 3), Ok((Completed, 2)));
        assert!(decide(RolledBack, Advance, 0, 3).is_err());
        assert_eq!(decide(Running, Pause, 1, 3), Ok((Paused, 1)));
        assert!(decide(Paused, Pause, 1, 3).is_err());
        assert_eq!(decide(Paused, Resume, 1, 3), Ok((Running, 1)));
        assert_eq!(decide(RolledBack, Resume, 0, 3), Ok((Running, 0)));
        assert!(decide(Running, Resume, 0, 3).is_err());
        for s in [Running, Paused, RolledBack] {
            assert_eq!(decide(s, Cancel, 1, 3), Ok((Cancelled, 1)));
        }
        for s in [Completed, Cancelled] {
            for m in [Advance, Pause, Resume, Cancel] {
                assert!(decide(s, m, 1, 3).is_err(), "{m:?} in {s:?}");
            }
        }
    }

    #[test]
    fn a_breach_falls_back_one_milestone_or_off() {
        assert_eq!(fallback(OnBreach::Previous, 2), Fallback::Milestone(1));
        assert_eq!(fallback(OnBreach::Previous, 0), Fallback::Off);
        assert_eq!(fallback(OnBreach::Off, 3), Fallback::Off);
    }
}
