//! The change-request workflow as a pure state machine: which transition is allowed in which
//! state, for whom, and where it leads. No I/O; `service` loads the facts and stores the result.
//!
//! ```text
//! draft --submit--> in-review --approve (enough)--> approved --apply--> applied
//!                       |  ^                           |  \--schedule--> scheduled --apply--> applied
//!                       |  +------edit (clears approvals)                    |
//!                       +--reject--> rejected          +--(conflict)--> failed --refresh--> in-review
//! draft, in-review, approved, scheduled, failed --cancel--> cancelled
//! ```
//! Permissions come from the one policy ([`crate::authz::allows`]); what is specific to a request
//! (who wrote it) is turned into the policy's `own` flags here.

use crate::authz::{allows, Action, Principal};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Draft,
    InReview,
    Approved,
    Scheduled,
    Applied,
    Rejected,
    Cancelled,
    Failed,
}

impl State {
    pub const ALL: [State; 8] = [
        State::Draft,
        State::InReview,
        State::Approved,
        State::Scheduled,
        State::Applied,
        State::Rejected,
        State::Cancelled,
        State::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::InReview => "in-review",
            State::Approved => "approved",
            State::Scheduled => "scheduled",
            State::Applied => "applied",
            State::Rejected => "rejected",
            State::Cancelled => "cancelled",
            State::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Finished requests never change again.
    pub fn is_final(self) -> bool {
        matches!(self, State::Applied | State::Rejected | State::Cancelled)
    }

    fn words(self) -> &'static str {
        match self {
            State::Draft => "still a draft",
            State::InReview => "in review",
            State::Approved => "approved",
            State::Scheduled => "scheduled",
            State::Applied => "already applied",
            State::Rejected => "rejected",
            State::Cancelled => "cancelled",
            State::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Submit,
    Approve,
    Reject,
    Apply,
    Schedule,
    Cancel,
    /// Changing the request's content or wording (adding or removing a change, a new title).
    Edit,
    /// Re-basing a failed (conflicting) request on the live configuration, for a new review.
    Refresh,
    Comment,
}

impl Transition {
    pub const ALL: [Transition; 9] = [
        Transition::Submit,
        Transition::Approve,
        Transition::Reject,
        Transition::Apply,
        Transition::Schedule,
        Transition::Cancel,
        Transition::Edit,
        Transition::Refresh,
        Transition::Comment,
    ];

    fn verb(self) -> &'static str {
        match self {
            Transition::Submit => "submitted",
            Transition::Approve => "approved",
            Transition::Reject => "rejected",
            Transition::Apply => "applied",
            Transition::Schedule => "scheduled",
            Transition::Cancel => "cancelled",
            Transition::Edit => "edited",
            Transition::Refresh => "refreshed",
            Transition::Comment => "commented on",
        }
    }
}

/// What the machine needs to know about the request.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    pub state: State,
    pub author_id: i64,
    pub items: usize,
    /// Distinct approvals so far, and whether the asker is among them.
    pub approvals: usize,
    pub approved_by_asker: bool,
    /// What the environment asks for now.
    pub required_approvals: usize,
    /// `Some(production)` when the request lowers its environment's protection: then only
    /// people who could set that protection review it.
    pub lowers_protection: Option<bool>,
    /// A draft nobody has touched for [`STALE_DRAFT_DAYS`] (see [`is_stale_draft`]).
    pub stale_draft: bool,
}

/// After how many untouched days a draft counts as abandoned: shown as stale, and cancellable
/// by approvers as well as by its author.
pub const STALE_DRAFT_DAYS: i64 = 14;

/// True for a draft last changed [`STALE_DRAFT_DAYS`] or more before `now`.
pub fn is_stale_draft(state: State, updated_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    state == State::Draft && now - updated_at >= Duration::days(STALE_DRAFT_DAYS)
}

/// Who asks: a person with their project role, or the scheduler acting on an earlier decision.
#[derive(Debug, Clone, Copy)]
pub enum Asker {
    Person { user_id: i64, principal: Principal },
    Scheduler,
}

/// Where a permitted transition leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub to: State,
    /// Approvals given so far no longer count (the content changed).
    pub clear_approvals: bool,
    /// False for a repeated approval by the same person: nothing to store.
    pub records_approval: bool,
}

impl Step {
    fn to(to: State) -> Step {
        Step {
            to,
            clear_approvals: false,
            records_approval: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not for this person (403).
    Forbidden(String),
    /// Not in this state (409).
    WrongState(String),
    /// Missing input, such as a rejection without a reason (422).
    Invalid(&'static str, String),
}

/// Decides one transition. `reason` is the rejection's reason (required for `Reject`).
pub fn decide(t: Transition, f: &Facts, who: Asker, reason: Option<&str>) -> Result<Step, Refusal> {
    check_who(t, f, who)?;
    check_state(t, f)?;
    use State::*;
    Ok(match t {
        Transition::Submit => Step::to(InReview),
        Transition::Approve => {
            let counted = f.approvals + usize::from(!f.approved_by_asker);
            Step {
                to: if counted >= f.required_approvals.max(1) {
                    Approved
                } else {
                    InReview
                },
                clear_approvals: false,
                records_approval: !f.approved_by_asker,
            }
        }
        Transition::Reject => {
            if reason.is_none_or(|r| r.trim().is_empty()) {
                return Err(Refusal::Invalid(
                    "reason",
                    "a rejection needs a reason".into(),
                ));
            }
            Step::to(Rejected)
        }
        Transition::Apply => {
            if f.approvals < f.required_approvals.max(1) {
                return Err(Refusal::WrongState(format!(
                    "the change request has {} of the {} approvals it needs",
                    f.approvals,
                    f.required_approvals.max(1)
                )));
            }
            Step::to(Applied)
        }
        Transition::Schedule => Step::to(Scheduled),
        Transition::Cancel => Step::to(Cancelled),
        Transition::Edit => Step {
            to: if f.state == Draft { Draft } else { InReview },
            clear_approvals: f.state != Draft,
            records_approval: false,
        },
        Transition::Refresh => Step {
            to: InReview,
            clear_approvals: true,
            records_approval: false,
        },
        Transition::Comment => Step::to(f.state),
    })
}

fn check_state(t: Transition, f: &Facts) -> Result<(), Refusal> {
    use State::*;
    let ok = match t {
        Transition::Submit => f.state == Draft,
        Transition::Approve | Transition::Reject => f.state == InReview,
        Transition::Apply => matches!(f.state, Approved | Scheduled),
        Transition::Schedule => f.state == Approved,
        Transition::Cancel => matches!(f.state, Draft | InReview | Approved | Scheduled | Failed),
        Transition::Edit => matches!(f.state, Draft | InReview | Approved),
        Transition::Refresh => f.state == Failed,
        Transition::Comment => true,
    };
    if !ok {
        let hint = match (t, f.state) {
            (Transition::Approve | Transition::Reject, Draft) => "; its author submits it first",
            (Transition::Apply | Transition::Schedule, InReview) => {
                "; it needs its approvals first"
            }
            (Transition::Apply, Failed) => "; refresh it and have it approved again",
            _ => "",
        };
        return Err(Refusal::WrongState(format!(
            "the change request is {}, so it cannot be {}{hint}",
            f.state.words(),
            t.verb()
        )));
    }
    if t == Transition::Submit && f.items == 0 {
        return Err(Refusal::WrongState(
            "the change request has no changes to submit".into(),
        ));
    }
    Ok(())
}

fn check_who(t: Transition, f: &Facts, who: Asker) -> Result<(), Refusal> {
    let (user_id, principal) = match who {
        // The scheduler only carries out what approvers decided.
        Asker::Scheduler => {
            return if t == Transition::Apply {
                Ok(())
            } else {
                Err(Refusal::Forbidden("the scheduler only applies".into()))
            };
        }
        Asker::Person { user_id, principal } => (user_id, principal),
    };
    let own = user_id == f.author_id;
    let action = match t {
        Transition::Submit | Transition::Edit | Transition::Refresh => {
            if !own {
                return Err(Refusal::Forbidden(format!(
                    "only the author may {} a change request",
                    match t {
                        Transition::Submit => "submit",
                        Transition::Edit => "edit",
                        _ => "refresh",
                    }
                )));
            }
            Action::ProposeChange
        }
        Transition::Approve | Transition::Reject => match f.lowers_protection {
            Some(production) => Action::ReviewProtection { own, production },
            None => Action::ReviewChange { own },
        },
        Transition::Apply | Transition::Schedule => Action::ApplyChange { own },
        Transition::Cancel if !own && f.stale_draft => Action::CancelStaleDraft,
        Transition::Cancel => Action::CancelChange { own },
        Transition::Comment => Action::CommentChange,
    };
    allows(principal, action).map_err(|d| Refusal::Forbidden(d.0.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::Role;

    const AUTHOR: i64 = 1;
    const OTHER: i64 = 2;

    fn facts(state: State) -> Facts {
        Facts {
            state,
            author_id: AUTHOR,
            items: 1,
            approvals: 0,
            approved_by_asker: false,
            required_approvals: 1,
            lowers_protection: None,
            stale_draft: false,
        }
    }

    fn person(user_id: i64, role: Role, is_admin: bool) -> Asker {
        Asker::Person {
            user_id,
            principal: Principal {
                is_admin,
                role: Some(role),
                scoped: false,
            },
        }
    }

    /// Which transitions each state allows, for a permitted asker (the author for author-only
    /// ones, another owner otherwise), with enough approvals for apply.
    #[test]
    fn the_state_table() {
        use State::*;
        use Transition::*;
        let table: [(State, &[Transition]); 8] = [
            (Draft, &[Submit, Cancel, Edit, Comment]),
            (InReview, &[Approve, Reject, Cancel, Edit, Comment]),
            (Approved, &[Apply, Schedule, Cancel, Edit, Comment]),
            (Scheduled, &[Apply, Cancel, Comment]),
            (Applied, &[Comment]),
            (Rejected, &[Comment]),
            (Cancelled, &[Comment]),
            (Failed, &[Cancel, Refresh, Comment]),
        ];
        for (state, allowed) in table {
            for t in Transition::ALL {
                let mut f = facts(state);
                f.approvals = 1;
                let who = match t {
                    Submit | Edit | Refresh => person(AUTHOR, Role::Editor, false),
                    _ => person(OTHER, Role::Owner, false),
                };
                let got = decide(t, &f, who, Some("because"));
                if allowed.contains(&t) {
                    assert!(got.is_ok(), "{t:?} in {state:?}: {got:?}");
                } else {
                    assert!(
                        matches!(got, Err(Refusal::WrongState(_))),
                        "{t:?} in {state:?}: {got:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn where_transitions_lead() {
        use State::*;
        let owner = person(OTHER, Role::Owner, false);
        let author = person(AUTHOR, Role::Editor, false);
        let to = |t, f: &Facts, who| decide(t, f, who, Some("why")).unwrap();
        assert_eq!(to(Transition::Submit, &facts(Draft), author).to, InReview);
        assert_eq!(
            to(Transition::Approve, &facts(InReview), owner).to,
            Approved
        );
        let mut two = facts(InReview);
        two.required_approvals = 2;
        let step = to(Transition::Approve, &two, owner);
        assert_eq!((step.to, step.records_approval), (InReview, true));
        two.approvals = 1;
        assert_eq!(to(Transition::Approve, &two, owner).to, Approved);
        // The same person again: counted once, nothing recorded, no state change.
        two.approved_by_asker = true;
        let step = to(Transition::Approve, &two, owner);
        assert_eq!((step.to, step.records_approval), (InReview, false));
        assert_eq!(to(Transition::Reject, &facts(InReview), owner).to, Rejected);
        let mut approved = facts(Approved);
        approved.approvals = 1;
        assert_eq!(to(Transition::Apply, &approved, owner).to, Applied);
        assert_eq!(
            to(Transition::Apply, &approved, Asker::Scheduler).to,
            Applied
        );
        assert_eq!(to(Transition::Schedule, &approved, author).to, Scheduled);
        assert_eq!(to(Transition::Cancel, &approved, author).to, Cancelled);
        let edit = to(Transition::Edit, &approved, author);
        assert_eq!((edit.to, edit.clear_approvals), (InReview, true));
        let edit = to(Transition::Edit, &facts(Draft), author);
        assert_eq!((edit.to, edit.clear_approvals), (Draft, false));
        let refresh = to(Transition::Refresh, &facts(Failed), author);
        assert_eq!((refresh.to, refresh.clear_approvals), (InReview, true));
    }

    #[test]
    fn nobody_approves_their_own_request_admins_included() {
        for role in Role::ALL {
            for is_admin in [false, true] {
                for t in [Transition::Approve, Transition::Reject] {
                    let got = decide(
                        t,
                        &facts(State::InReview),
                        person(AUTHOR, role, is_admin),
                        Some("x"),
                    );
                    assert!(
                        matches!(got, Err(Refusal::Forbidden(_))),
                        "{role:?} {is_admin}"
                    );
                }
            }
        }
    }

    #[test]
    fn only_approvers_owners_and_admins_review() {
        for (role, ok) in [
            (Role::Viewer, false),
            (Role::Editor, false),
            (Role::Approver, true),
            (Role::Owner, true),
        ] {
            let got = decide(
                Transition::Approve,
                &facts(State::InReview),
                person(OTHER, role, false),
                None,
            );
            assert_eq!(got.is_ok(), ok, "{role:?}");
        }
        let admin = Asker::Person {
            user_id: OTHER,
            principal: Principal {
                is_admin: true,
                role: None,
                scoped: false,
            },
        };
        assert!(decide(Transition::Approve, &facts(State::InReview), admin, None).is_ok());
    }

    /// Lowering protection is reviewed by people who could set it: owners elsewhere, admins for
    /// production, never the author.
    #[test]
    fn lowered_protection_is_reviewed_by_those_who_may_set_it() {
        for (production, role, is_admin, ok) in [
            (false, Role::Approver, false, false),
            (false, Role::Owner, false, true),
            (true, Role::Owner, false, false),
            (true, Role::Viewer, true, true),
        ] {
            let f = Facts {
                lowers_protection: Some(production),
                ..facts(State::InReview)
            };
            for t in [Transition::Approve, Transition::Reject] {
                let got = decide(t, &f, person(OTHER, role, is_admin), Some("no"));
                assert_eq!(got.is_ok(), ok, "{t:?} production={production} {role:?}");
            }
            let own = decide(
                Transition::Approve,
                &f,
                person(AUTHOR, Role::Owner, true),
                None,
            );
            assert!(matches!(own, Err(Refusal::Forbidden(_))));
        }
    }

    #[test]
    fn author_only_transitions_refuse_everybody_else() {
        for t in [Transition::Submit, Transition::Edit] {
            let got = decide(
                t,
                &facts(State::Draft),
                person(OTHER, Role::Owner, true),
                None,
            );
            assert!(matches!(got, Err(Refusal::Forbidden(_))), "{t:?}");
        }
        let viewer_author = person(AUTHOR, Role::Viewer, false);
        assert!(decide(
            Transition::Submit,
            &facts(State::Draft),
            viewer_author,
            None
        )
        .is_err());
    }

    #[test]
    fn a_rejection_needs_a_reason() {
        let owner = person(OTHER, Role::Owner, false);
        for reason in [None, Some(""), Some("  ")] {
            let got = decide(Transition::Reject, &facts(State::InReview), owner, reason);
            assert!(
                matches!(got, Err(Refusal::Invalid("reason", _))),
                "{reason:?}"
            );
        }
    }

    #[test]
    fn apply_needs_enough_approvals_and_an_empty_draft_cannot_be_submitted() {
        let owner = person(OTHER, Role::Owner, false);
        let mut f = facts(State::Approved);
        f.required_approvals = 2;
        f.approvals = 1;
        assert!(matches!(
            decide(Transition::Apply, &f, owner, None),
            Err(Refusal::WrongState(_))
        ));
        let mut empty = facts(State::Draft);
        empty.items = 0;
        let author = person(AUTHOR, Role::Editor, false);
        assert!(matches!(
            decide(Transition::Submit, &empty, author, None),
            Err(Refusal::WrongState(_))
        ));
    }

    #[test]
    fn approvers_cancel_stale_drafts_of_others_but_not_fresh_ones() {
        // (role, stale, may cancel somebody else's draft)
        let table = [
            (Role::Viewer, true, false),
            (Role::Editor, true, false),
            (Role::Approver, true, true),
            (Role::Owner, true, true),
            (Role::Viewer, false, false),
            (Role::Editor, false, false),
            (Role::Approver, false, false),
            (Role::Owner, false, true),
        ];
        for (role, stale, may) in table {
            let f = Facts {
                stale_draft: stale,
                ..facts(State::Draft)
            };
            let got = decide(Transition::Cancel, &f, person(OTHER, role, false), None);
            assert_eq!(got.is_ok(), may, "{role:?} stale={stale}: {got:?}");
        }
        let author = person(AUTHOR, Role::Editor, false);
        assert!(decide(Transition::Cancel, &facts(State::Draft), author, None).is_ok());
    }

    #[test]
    fn a_draft_is_stale_after_fourteen_untouched_days() {
        let at = crate::clock::parse_stamp("2026-01-01T00:00:00Z").unwrap();
        let days = |n| at + Duration::days(n);
        assert!(!is_stale_draft(State::Draft, at, days(13)));
        assert!(is_stale_draft(State::Draft, at, days(14)));
        assert!(!is_stale_draft(State::InReview, at, days(40)));
    }

    #[test]
    fn the_scheduler_only_applies() {
        for t in Transition::ALL {
            let mut f = facts(State::Scheduled);
            f.approvals = 1;
            let got = decide(t, &f, Asker::Scheduler, Some("x"));
            assert_eq!(got.is_ok(), t == Transition::Apply, "{t:?}");
        }
    }

    #[test]
    fn states_round_trip_as_text() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
    }
}
