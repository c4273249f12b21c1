//! Applying an approved request, by a person or the scheduler: every item or none, refused
//! (and failed) when what it changes moved since it was proposed.

use super::change_request::{decide, Asker, Transition};
use super::proposal::apply_change;
use super::queries::{live_version, not_found, ChangeRequestView};
use super::queries::{project_and_env, proposal_of};
use super::store::{self, Move, RequestRow};
use super::workflow::{begin, entry, facts, finish, move_or_refuse, refusal};
use super::State;
use crate::audit::{self, Actor};
use crate::authz::Identity;
use crate::clock::stamp;
use crate::db::Conn;
use crate::db::Writes;
use crate::error::{AppError, AppResult};
use crate::notify::{self, Event};
use chrono::{DateTime, Utc};
use serde_json::json;

/// Applies an approved (or scheduled) request as a person.
pub async fn apply(
    writes: &Writes,
    who: &Identity,
    id: i64,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let (tx, row, _) = begin(writes, who, id, Transition::Apply, None, now).await?;
    apply_in(writes, tx, row, &who.actor, now).await
}

/// What the scheduler does with a due request: apply it, or mark it failed with the reason.
/// `None` when it is no longer scheduled and due: another replica (or a person) took it first.
pub async fn apply_scheduled(
    writes: &Writes,
    id: i64,
    now: DateTime<Utc>,
) -> AppResult<Option<ChangeRequestView>> {
    let actor = Actor::system("scheduler");
    let mut tx = writes.begin().await?;
    if !store::claim_scheduled(&mut tx, id, &stamp(now)).await? {
        return Ok(None);
    }
    let row = store::request_by_id(&mut tx, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let f = facts(&mut tx, &row, None, now).await?;
    match decide(Transition::Apply, &f, Asker::Scheduler, None) {
        Ok(_) => apply_in(writes, tx, row, &actor, now).await.map(Some),
        Err(r) if row.state() == State::Scheduled => {
            let e = refusal(r);
            fail(&mut tx, &row, &actor, &e.to_string(), now).await?;
            writes.commit(tx).await?;
            Err(e)
        }
        Err(r) => Err(refusal(r)),
    }
}

/// Marks the request failed with the reason, from the state it is in.
pub(super) async fn fail(
    conn: &mut Conn,
    row: &RequestRow,
    actor: &Actor,
    why: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let m = Move {
        outcome: Some(why),
        ..Move::new(row.state(), State::Failed)
    };
    if store::move_state(&mut *conn, row.id, &m, &stamp(now)).await? {
        audit::append(
            &mut *conn,
            actor,
            entry(audit::Action::ChangeRequestFailed, row)
                .after(json!({ "changeRequest": row.id }))
                .reason(Some(why)),
            now,
        )
        .await?;
        notify::change_request(&mut *conn, row.id, Event::Failed, actor, Some(why), now).await?;
    }
    Ok(())
}

/// Every item or none: first each item's base version is checked against the live one (a moved
/// one fails the request, nothing is written), then all are applied through the services inside
/// a savepoint; a refusal there also fails the request and rolls every item back.
///
/// Audit: each service writes its usual per-change entry (so a flag's own history stays
/// complete), and the request writes one `change-request.applied` entry naming the request, its
/// author, its approvers, its changes and the entries they wrote (see `audit::via`).
pub(super) async fn apply_in(
    writes: &Writes,
    mut tx: crate::db::Tx,
    row: RequestRow,
    actor: &Actor,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let id = row.id;
    let (project, env) = project_and_env(&mut tx, &row).await?;
    let items = store::items_of(&mut tx, id).await?;
    let mut conflicts = Vec::new();
    for item in &items {
        let live = live_version(&mut tx, &row, item).await?;
        if live != Some(item.base_version) {
            let what = proposal_of(item)?.summary(item.flag_key.as_deref());
            conflicts.push(match live {
                Some(v) => format!(
                    "\"{what}\" was proposed on version {} but the live configuration is at version {v}",
                    item.base_version
                ),
                None => format!("\"{what}\" changes something that no longer exists"),
            });
        }
    }
    if !conflicts.is_empty() {
        let message = format!(
            "the live configuration changed since this request was made: {}; nothing was applied — refresh the request and have it approved again",
            conflicts.join("; ")
        );
        fail(&mut tx, &row, actor, &message, now).await?;
        writes.commit(tx).await?;
        return Err(AppError::conflict("change-conflict", message));
    }
    // The entries the items write are the ones after the head now: the transaction holds the
    // write lock, so nobody else appends in between. The applied entry names them.
    let first = audit::store::head(&mut tx).await?.seq + 1;
    let mut sp = tx.begin().await?;
    let mut failure = None;
    for item in &items {
        let proposal = proposal_of(item)?;
        let flag = item.flag_key.as_deref().unwrap_or("");
        match apply_change(&mut sp, actor, &project, Some(&env), flag, &proposal, now).await {
            Ok(_) => {}
            Err(e @ (AppError::Internal(_) | AppError::Unavailable)) => return Err(e),
            Err(e) => {
                failure = Some(format!(
                    "\"{}\" could not be applied: {e}",
                    proposal.summary(item.flag_key.as_deref())
                ));
                break;
            }
        }
    }
    if let Some(message) = failure {
        sp.rollback().await?;
        fail(&mut tx, &row, actor, &message, now).await?;
        writes.commit(tx).await?;
        return Err(AppError::conflict("change-failed", message));
    }
    #[allow(clippy::disallowed_methods)] // a savepoint: the write commits in `finish`
    sp.commit().await?;
    let entries: Vec<i64> = (first..=audit::store::head(&mut tx).await?.seq).collect();
    let m = Move {
        applied_by: Some(&actor.label),
        ..Move::new(row.state(), State::Applied)
    };
    move_or_refuse(&mut tx, &row, &m, &stamp(now)).await?;
    let approvers: Vec<String> = store::approvals_of(&mut tx, id)
        .await?
        .into_iter()
        .map(|a| a.user_label)
        .collect();
    let changes: Vec<String> = items
        .iter()
        .filter_map(|i| {
            proposal_of(i)
                .ok()
                .map(|p| p.summary(i.flag_key.as_deref()))
        })
        .collect();
    audit::append(
        &mut tx,
        actor,
        entry(audit::Action::ChangeRequestApplied, &row).after(json!({
            "changeRequest": id, "title": row.title, "reason": row.reason,
            "author": row.author_label, "approvers": approvers, "changes": changes,
            "entries": entries,
        })),
        now,
    )
    .await?;
    notify::change_request(&mut tx, id, Event::Applied, actor, None, now).await?;
    finish(writes, tx, id).await
}
