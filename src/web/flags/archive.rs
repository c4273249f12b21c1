//! Archiving a flag (from the page header or the Lifecycle tab's retirement checklist, with an
//! outcome and a reason) and reviving it. A refusal (flags still depend on it, a bad outcome)
//! comes back as a message on the page it was sent from, with nothing changed.

use super::{flag_href, FlagPath};
use crate::authz::Action;
use crate::catalog::{service, ArchiveNote};
use crate::changes::service as changes;
use crate::db::begin_write;
use crate::error::AppError;
use crate::http::commands;
use crate::web::handler::ProjectCtx;
use crate::web::{see_other, sentence, Flash, PageResult, WebForm};
use axum::extract::Path;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub(super) struct ArchiveForm {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    reason: String,
    /// `lifecycle` when sent from that tab, to come back to it.
    #[serde(default)]
    from: String,
}

pub(super) async fn archive_flag(
    ctx: ProjectCtx,
    Path(p): Path<FlagPath>,
    WebForm(f): WebForm<ArchiveForm>,
) -> PageResult {
    ctx.require(Action::ArchiveFlag)?;
    let href = flag_href(&ctx.who.project.key, &p.key);
    let back = match f.from.as_str() {
        "lifecycle" => format!("{href}?tab=lifecycle"),
        _ => href.clone(),
    };
    let note = ArchiveNote {
        outcome: Some(f.outcome),
        reason: Some(f.reason),
    };
    let note = match note.checked() {
        Ok(note) => note,
        Err(e) => return refused(&ctx, e, &back).await,
    };
    // As in the API: archiving removes the flag from every feed, so it counts as a change to
    // each environment where it is on; where one is protected, it waits in a change request.
    let change = changes::Change {
        flag_key: &p.key,
        env: None,
        proposal: crate::changes::Proposal::Archive { note },
    };
    let mut tx = begin_write(&ctx.app.db).await?;
    let proposed = commands::propose(&mut tx, &ctx.who, change, ctx.app.now()).await;
    match ctx.app.writes.commit_if_ok(tx, proposed).await {
        Ok(changes::Outcome::Staged(cr)) => {
            let message = format!(
                "Added to your draft change request #{}: {} stays live until the request is \
                 approved and applied.",
                cr.id, p.key
            );
            ctx.done(message, &crate::web::href::change_request(cr.id))
                .await
        }
        Ok(_) => ctx.done(format!("{} archived.", p.key), &href).await,
        Err(e) => refused(&ctx, e, &back).await,
    }
}

pub(super) async fn revive_flag(ctx: ProjectCtx, Path(p): Path<FlagPath>) -> PageResult {
    ctx.require(Action::ArchiveFlag)?;
    let (actor, project, now) = (ctx.who.actor(), &ctx.who.project, ctx.app.now());
    let href = flag_href(&project.key, &p.key);
    let mut tx = begin_write(&ctx.app.db).await?;
    let revived = service::revive(&mut tx, actor, project, &p.key, now).await;
    match ctx.app.writes.commit_if_ok(tx, revived).await {
        Ok(_) => ctx.done(format!("{} revived.", p.key), &href).await,
        Err(e) => refused(&ctx, e, &href).await,
    }
}

/// A conflict or bad input is said on the page; anything else is an error page.
async fn refused(ctx: &ProjectCtx, e: AppError, back: &str) -> PageResult {
    match e {
        AppError::Invalid(_) | AppError::Conflict { .. } => {
            Flash::set(&ctx.session, "error", sentence(&e.to_string())).await;
            Ok(see_other(back))
        }
        e => Err(e.into()),
    }
}
