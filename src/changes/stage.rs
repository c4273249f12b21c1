//! Staging: adding a change to its author's draft change request for a protected environment,
//! after a dry run that validates it exactly as applying would.

use super::proposal::{after_of, apply_change, live_state, to_text, Change};
use super::queries::{not_found, target, view, ChangeRequestView};
use super::store::{self, NewItem};
use super::Proposal;
use crate::audit::{self, NewEntry};
use crate::authz::Identity;
use crate::clock::stamp;
use crate::db::Conn;
use crate::error::AppResult;
use crate::projects::{Environment, Project};
use chrono::{DateTime, Utc};
use serde_json::json;

/// Adds the change to the caller's draft for `env` (creating it), after a dry run that
/// validates it exactly as applying would (then rolled back).
pub(super) async fn stage(
    conn: &mut Conn,
    who: &Identity,
    project: &Project,
    env: &Environment,
    change: Change<'_>,
    now: DateTime<Utc>,
) -> AppResult<ChangeRequestView> {
    let user = &who.user;
    let flag_key = match &change.proposal {
        Proposal::Segment { .. } | Proposal::Protection { .. } => None,
        _ => Some(change.flag_key),
    };
    let segment_id = match &change.proposal {
        Proposal::Segment { id, .. } => Some(*id),
        _ => None,
    };
    let (base_version, before) = live_state(
        &mut *conn,
        project,
        env,
        change.flag_key,
        &change.proposal,
        now,
    )
    .await?;
    let after = {
        let mut dry = conn.begin().await?;
        let tried = apply_change(
            &mut dry,
            &who.actor,
            project,
            Some(env),
            change.flag_key,
            &change.proposal,
            now,
        )
        .await;
        dry.rollback().await?;
        after_of(&change.proposal, &tried?)
    };
    let at = stamp(now);
    let id = match store::draft_of(&mut *conn, env.id, user.id).await? {
        Some(id) => id,
        None => {
            store::insert_request(&mut *conn, project.id, env.id, (user.id, &user.email), &at)
                .await?
        }
    };
    let kind = change.proposal.kind();
    let payload = to_text(&change.proposal)?;
    let after_text = to_text(&after)?;
    match store::item_like(&mut *conn, id, kind, flag_key, segment_id).await? {
        Some(item) => store::replace_item(&mut *conn, item, &payload, &after_text).await?,
        None => {
            let item = NewItem {
                kind,
                flag_key,
                segment_id,
                payload: &payload,
                base_version,
                before_json: &to_text(&before)?,
                after_json: &after_text,
            };
            store::insert_item(&mut *conn, id, &item, &at).await?;
        }
    }
    store::touch(&mut *conn, id, &at).await?;
    let summary = change.proposal.summary(flag_key);
    let mut entry = NewEntry::new(
        audit::Action::ChangeRequestChangeAdded,
        target(id, project, env),
    )
    .project(&project.key)
    .environment(&env.key)
    .before(json!({ "changeRequest": id, "change": kind, "state": before }))
    .after(json!({ "changeRequest": id, "change": kind, "summary": summary, "state": after }));
    if let Some(f) = flag_key {
        entry = entry.flag(f);
    }
    audit::append(&mut *conn, &who.actor, entry, now).await?;
    let row = store::request_by_id(&mut *conn, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    view(&mut *conn, row).await
}
