//! Editing a request after it was proposed: rewording, taking a change out, re-basing a failed
//! request. Approvals given so far no longer count.

use super::change_request::{Step, Transition};
use super::proposal::{live_state, to_text};
use super::queries::{project_and_env, proposal_of, ChangeRequestView};
use super::store::{self, Move, RequestRow};
use super::workflow::{begin, entry, finish, move_or_refuse};
use crate::audit::{self};
use crate::authz::Identity;
use crate::clock::stamp;
use crate::db::Conn;
use crate::db::Writes;
use crate::error::{AppError, AppResult};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Common to every edit: approvals given so far no longer count, and an approved request goes
/// back to review.
pub(super) async fn edited(
    conn: &mut Conn,
    who: &Identity,
    row: &RequestRow,
    step: Step,
    what: Value,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let at = stamp(now);
    let cleared = if step.clear_approvals {
        store::clear_approvals(&mut *conn, row.id).await?
    } else {
        0
    };
    if step.to != row.state() {
        move_or_refuse(&mut *conn, row, &Move::new(row.state(), step.to), &at).await?;
    } else {
        store::touch(&mut *conn, row.id, &at).await?;
    }
    audit::append(
        &mut *conn,
        &who.actor,
        entry(audit::Action::ChangeRequestEdited, row).after(json!({
            "changeRequest": row.id, "edit": what, "approvalsCleared": cleared, "state": step.to,
        })),
        now,
    )
    .await?;
    Ok(())
}

/// A new title or reason.
pub async fn reword(
    writes: &Writes,
    who: &Identity,
    id: i64,
    title: Option<&str>,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let (mut tx, row, step) = begin(writes, who, id, Transition::Edit, None, now).await?;
    let title = title.map(str::trim).unwrap_or(&row.title).to_string();
    let reason = reason.map(str::trim).unwrap_or(&row.reason).to_string();
    if title.chars().count() > 200 || reason.chars().count() > 5000 {
        return Err(AppError::invalid(
            "title",
            "a title has at most 200 characters, a reason 5000",
        ));
    }
    store::set_wording(&mut tx, id, &title, &reason, &stamp(now)).await?;
    edited(
        &mut tx,
        who,
        &row,
        step,
        json!({"title": title, "reason": reason}),
        now,
    )
    .await?;
    finish(writes, tx, id).await
}

/// Takes one change out of the request.
pub async fn remove_item(
    writes: &Writes,
    who: &Identity,
    id: i64,
    item: i64,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let (mut tx, row, step) = begin(writes, who, id, Transition::Edit, None, now).await?;
    if !store::delete_item(&mut tx, id, item).await? {
        return Err(AppError::not_found(format!(
            "the change request #{id} has no change #{item}"
        )));
    }
    edited(
        &mut tx,
        who,
        &row,
        step,
        json!({ "removedChange": item }),
        now,
    )
    .await?;
    finish(writes, tx, id).await
}

/// Re-bases a failed request on the live configuration; it needs its approvals again.
pub async fn refresh(
    writes: &Writes,
    who: &Identity,
    id: i64,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let (mut tx, row, step) = begin(writes, who, id, Transition::Refresh, None, now).await?;
    let (project, env) = project_and_env(&mut tx, &row).await?;
    for item in store::items_of(&mut tx, id).await? {
        let proposal = proposal_of(&item)?;
        let flag = item.flag_key.as_deref().unwrap_or("");
        let (version, before) = live_state(&mut tx, &project, &env, flag, &proposal, now).await?;
        store::rebase_item(&mut tx, item.id, version, &to_text(&before)?).await?;
    }
    let at = stamp(now);
    store::clear_approvals(&mut tx, id).await?;
    let m = Move {
        outcome: Some(""),
        ..Move::new(row.state(), step.to)
    };
    move_or_refuse(&mut tx, &row, &m, &at).await?;
    audit::append(
        &mut tx,
        &who.actor,
        entry(audit::Action::ChangeRequestRefreshed, &row).after(json!({ "changeRequest": id })),
        now,
    )
    .await?;
    finish(writes, tx, id).await
}
