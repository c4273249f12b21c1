//! The workflow's transitions for people: each opens its own `BEGIN IMMEDIATE` transaction, asks
//! the state machine (`change_request::decide`), and commits with its audit entries or not at all.

use super::change_request::{decide, is_stale_draft, Asker, Facts, Refusal, Step, Transition};
use super::queries::{not_found, row_target, view, visible, ChangeRequestView};
use super::store::{self, Move, RequestRow};
use crate::audit::{self, NewEntry};
use crate::authz::Identity;
use crate::clock::{parse_stamp, stamp};
use crate::db::Conn;
use crate::db::Writes;
use crate::error::{AppError, AppResult, FieldError};
use crate::notify::{self, Event};
use chrono::{DateTime, Utc};
use serde_json::json;

pub(super) async fn facts(
    conn: &mut Conn,
    r: &RequestRow,
    user_id: Option<i64>,
    now: DateTime<Utc>,
) -> AppResult<Facts> {
    let approvals = store::approvals_of(&mut *conn, r.id).await?;
    let lowers_protection = store::items_of(&mut *conn, r.id)
        .await?
        .iter()
        .any(|i| i.kind == "protection")
        .then_some(r.environment_production);
    Ok(Facts {
        lowers_protection,
        state: r.state(),
        author_id: r.author_id,
        items: usize::try_from(r.items).unwrap_or(0),
        approvals: approvals.len(),
        approved_by_asker: user_id.is_some_and(|u| approvals.iter().any(|a| a.user_id == u)),
        required_approvals: usize::try_from(r.required_approvals).unwrap_or(1),
        stale_draft: parse_stamp(&r.updated_at)
            .is_some_and(|at| is_stale_draft(r.state(), at, now)),
    })
}

pub(super) fn refusal(r: Refusal) -> AppError {
    match r {
        Refusal::Forbidden(m) => AppError::Forbidden(m),
        Refusal::WrongState(m) => AppError::conflict("change-request-state", m),
        Refusal::Invalid(field, m) => AppError::invalid(field, m),
    }
}

/// Opens the write transaction, loads the request and decides the transition for a person.
/// A refused review is recorded in the audit log (who tried to approve what), then refused.
pub(super) async fn begin(
    writes: &Writes,
    who: &Identity,
    id: i64,
    t: Transition,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<(crate::db::Tx, RequestRow, Step)> {
    let mut tx = writes.begin().await?;
    let (row, principal) = visible(&mut tx, who, id).await?;
    let f = facts(&mut tx, &row, Some(who.user.id), now).await?;
    let asker = Asker::Person {
        user_id: who.user.id,
        principal,
    };
    match decide(t, &f, asker, reason) {
        Ok(step) => Ok((tx, row, step)),
        Err(Refusal::Forbidden(m)) if matches!(t, Transition::Approve | Transition::Reject) => {
            let verb = if t == Transition::Approve {
                "approve"
            } else {
                "reject"
            };
            audit::append(
                &mut tx,
                &who.actor,
                NewEntry::new(audit::Action::ChangeRequestReviewDenied, row_target(&row))
                    .project(&row.project_key)
                    .environment(&row.environment_key)
                    .after(json!({ "changeRequest": row.id, "attempted": verb, "why": m })),
                now,
            )
            .await?;
            writes.commit(tx).await?;
            Err(AppError::Forbidden(m))
        }
        Err(r) => Err(refusal(r)),
    }
}

/// Moves the request, or finds that a concurrent caller already did (409).
pub(super) async fn move_or_refuse(
    conn: &mut Conn,
    row: &RequestRow,
    m: &Move<'_>,
    now: &str,
) -> AppResult<()> {
    if store::move_state(conn, row.id, m, now).await? {
        Ok(())
    } else {
        Err(AppError::conflict(
            "change-request-state",
            "the change request changed meanwhile; reload it and try again",
        ))
    }
}

/// Commits (the feed told, see `db::Writes`) and answers the request as it now is.
pub(super) async fn finish(
    writes: &Writes,
    mut tx: crate::db::Tx,
    id: i64,
) -> AppResult<ChangeRequestView> {
    let row = store::request_by_id(&mut tx, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let v = view(&mut tx, row).await?;
    writes.commit(tx).await?;
    Ok(v)
}

pub(super) fn entry(action: audit::Action, r: &RequestRow) -> NewEntry<'_> {
    NewEntry::new(action, row_target(r))
        .project(&r.project_key)
        .environment(&r.environment_key)
}

/// Submits a draft for review with a title and a reason.
pub async fn submit(
    writes: &Writes,
    who: &Identity,
    id: i64,
    title: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let title = title.trim();
    // Both fields at once, so the form says everything that is missing in one go.
    let mut missing = Vec::new();
    if title.is_empty() || title.chars().count() > 200 {
        missing.push(FieldError {
            field: "title",
            message: "give the change request a title of 1 to 200 characters".into(),
        });
    }
    if reason.trim().is_empty() || reason.chars().count() > 5000 {
        missing.push(FieldError {
            field: "reason",
            message: "say why, in at most 5000 characters".into(),
        });
    }
    if !missing.is_empty() {
        return Err(AppError::Invalid(missing));
    }
    let (mut tx, row, step) = begin(writes, who, id, Transition::Submit, None, now).await?;
    let at = stamp(now);
    store::set_wording(&mut tx, id, title, reason.trim(), &at).await?;
    move_or_refuse(&mut tx, &row, &Move::new(row.state(), step.to), &at).await?;
    audit::append(
        &mut tx,
        &who.actor,
        entry(audit::Action::ChangeRequestSubmitted, &row)
            .after(json!({ "changeRequest": id, "title": title, "changes": row.items }))
            .reason(Some(reason)),
        now,
    )
    .await?;
    notify::change_request(&mut tx, id, Event::Submitted, &who.actor, Some(reason), now).await?;
    finish(writes, tx, id).await
}

/// One person's approval: counted once however often it is sent; reaching the environment's
/// required number moves the request to approved, exactly once.
pub async fn approve(
    writes: &Writes,
    who: &Identity,
    id: i64,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let (mut tx, row, step) = begin(writes, who, id, Transition::Approve, None, now).await?;
    let at = stamp(now);
    if !step.records_approval {
        return finish(writes, tx, id).await;
    }
    if !store::insert_approval(&mut tx, id, (who.user.id, &who.user.email), &at).await? {
        return finish(writes, tx, id).await;
    }
    let count = store::approvals_of(&mut tx, id).await?.len();
    if step.to != row.state() {
        move_or_refuse(&mut tx, &row, &Move::new(row.state(), step.to), &at).await?;
        notify::change_request(&mut tx, id, Event::Approved, &who.actor, None, now).await?;
    } else {
        store::touch(&mut tx, id, &at).await?;
    }
    audit::append(
        &mut tx,
        &who.actor,
        entry(audit::Action::ChangeRequestApproved, &row).after(json!({
            "changeRequest": id, "approvals": count,
            "requiredApprovals": row.required_approvals, "state": step.to,
        })),
        now,
    )
    .await?;
    finish(writes, tx, id).await
}

pub async fn reject(
    writes: &Writes,
    who: &Identity,
    id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let (mut tx, row, step) = begin(writes, who, id, Transition::Reject, Some(reason), now).await?;
    let at = stamp(now);
    let m = Move {
        outcome: Some(reason.trim()),
        ..Move::new(row.state(), step.to)
    };
    move_or_refuse(&mut tx, &row, &m, &at).await?;
    audit::append(
        &mut tx,
        &who.actor,
        entry(audit::Action::ChangeRequestRejected, &row)
            .after(json!({ "changeRequest": id }))
            .reason(Some(reason)),
        now,
    )
    .await?;
    notify::change_request(&mut tx, id, Event::Rejected, &who.actor, Some(reason), now).await?;
    finish(writes, tx, id).await
}

pub async fn cancel(
    writes: &Writes,
    who: &Identity,
    id: i64,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let (mut tx, row, step) = begin(writes, who, id, Transition::Cancel, None, now).await?;
    let at = stamp(now);
    move_or_refuse(&mut tx, &row, &Move::new(row.state(), step.to), &at).await?;
    audit::append(
        &mut tx,
        &who.actor,
        entry(audit::Action::ChangeRequestCancelled, &row)
            .before(json!({ "changeRequest": id, "state": row.state() })),
        now,
    )
    .await?;
    finish(writes, tx, id).await
}

pub async fn schedule(
    writes: &Writes,
    who: &Identity,
    id: i64,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    if at <= now {
        return Err(AppError::invalid("at", "choose a time in the future"));
    }
    let (mut tx, row, step) = begin(writes, who, id, Transition::Schedule, None, now).await?;
    let when = stamp(at);
    let m = Move {
        scheduled_at: Some(&when),
        ..Move::new(row.state(), step.to)
    };
    move_or_refuse(&mut tx, &row, &m, &stamp(now)).await?;
    audit::append(
        &mut tx,
        &who.actor,
        entry(audit::Action::ChangeRequestScheduled, &row)
            .after(json!({ "changeRequest": id, "at": when })),
        now,
    )
    .await?;
    finish(writes, tx, id).await
}

pub async fn comment(
    writes: &Writes,
    who: &Identity,
    id: i64,
    body: &str,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let body = body.trim();
    if body.is_empty() || body.chars().count() > 5000 {
        return Err(AppError::invalid(
            "body",
            "write a comment of 1 to 5000 characters",
        ));
    }
    let (mut tx, row, _) = begin(writes, who, id, Transition::Comment, None, now).await?;
    let comment = store::insert_comment(&mut tx, id, &who.user.email, body, &stamp(now)).await?;
    audit::append(
        &mut tx,
        &who.actor,
        entry(audit::Action::ChangeRequestCommented, &row)
            .after(json!({ "changeRequest": id, "comment": comment, "body": body })),
        now,
    )
    .await?;
    finish(writes, tx, id).await
}

/// Parses an RFC 3339 time from input.
pub fn parse_time(field: &'static str, s: &str) -> AppResult<DateTime<Utc>> {
    parse_stamp(s.trim()).ok_or_else(|| {
        AppError::invalid(
            field,
            "give the time in RFC 3339, such as 2030-01-31T09:00:00Z",
        )
    })
}
