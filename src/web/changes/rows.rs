//! The inbox's lines: a request with its state, approvals and age; a draft nobody touched for
//! two weeks is marked stale, with a one-click Cancel for whoever the policy lets cancel it.

use super::{request_href, state_class};
use crate::authz::{Identity, Principal};
use crate::changes::change_request::{decide, is_stale_draft, Asker, Facts, Transition};
use crate::changes::service::ChangeRequestSummary;
use crate::clock::parse_stamp;
use crate::db::Conn;
use crate::error::AppResult;
use crate::projects::store as projects;
use crate::web::text::short_time;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

pub(super) struct Row {
    pub id: i64,
    pub href: String,
    pub title: String,
    pub project: String,
    pub environment: String,
    pub author: String,
    pub state: &'static str,
    pub state_class: &'static str,
    pub approvals: i64,
    pub required: i64,
    pub changes: i64,
    pub updated: String,
    pub scheduled: String,
    /// A draft untouched for `STALE_DRAFT_DAYS`.
    pub stale: bool,
    /// Where the one-click Cancel of a stale draft posts ("" when this person may not).
    pub cancel_href: String,
}

impl Row {
    fn of(s: ChangeRequestSummary, stale: bool, may_cancel: bool) -> Row {
        Row {
            href: request_href(s.id),
            cancel_href: if stale && may_cancel {
                format!("{}/cancel", request_href(s.id))
            } else {
                String::new()
            },
            stale,
            id: s.id,
            title: s.title,
            project: s.project,
            environment: s.environment,
            author: s.author,
            state: s.state.as_str(),
            state_class: state_class(s.state),
            approvals: s.approvals,
            required: s.required_approvals.max(1),
            changes: s.changes,
            updated: short_time(&s.updated_at),
            scheduled: s
                .scheduled_at
                .as_deref()
                .map(short_time)
                .unwrap_or_default(),
        }
    }
}

pub(super) async fn principal(
    conn: &mut Conn,
    who: &Identity,
    project_id: i64,
) -> AppResult<Principal> {
    let role = projects::role_of(conn, project_id, who.user.id).await?;
    Ok(crate::authz::reach::principal(who, role))
}

/// The lines of a list as `who` sees them at `now`: stale drafts marked, and cancellable where
/// the state machine (through the policy) would let this person cancel them.
pub(super) async fn rows(
    conn: &mut Conn,
    who: &Identity,
    list: Vec<ChangeRequestSummary>,
    now: DateTime<Utc>,
) -> AppResult<Vec<Row>> {
    let mut principals: HashMap<String, Option<Principal>> = HashMap::new();
    let mut out = Vec::with_capacity(list.len());
    for s in list {
        let stale = parse_stamp(&s.updated_at).is_some_and(|at| is_stale_draft(s.state, at, now));
        let mut may_cancel = false;
        if stale {
            if !principals.contains_key(&s.project) {
                let p = match projects::project_by_key(&mut *conn, &s.project).await? {
                    Some(p) => Some(principal(&mut *conn, who, p.id).await?),
                    None => None,
                };
                principals.insert(s.project.clone(), p);
            }
            if let Some(Some(p)) = principals.get(&s.project) {
                may_cancel = may_cancel_stale(&s, who, *p);
            }
        }
        out.push(Row::of(s, stale, may_cancel));
    }
    Ok(out)
}

/// As the state machine decides a cancel of this stale draft by this person.
fn may_cancel_stale(s: &ChangeRequestSummary, who: &Identity, principal: Principal) -> bool {
    let facts = Facts {
        state: s.state,
        author_id: s.author_id,
        items: usize::try_from(s.changes).unwrap_or(0),
        approvals: usize::try_from(s.approvals).unwrap_or(0),
        approved_by_asker: false,
        required_approvals: usize::try_from(s.required_approvals).unwrap_or(1),
        lowers_protection: None,
        stale_draft: true,
    };
    let asker = Asker::Person {
        user_id: who.user.id,
        principal,
    };
    decide(Transition::Cancel, &facts, asker, None).is_ok()
}
