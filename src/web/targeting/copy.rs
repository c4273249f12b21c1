//! Copying a flag's targeting from one environment to another, from the Targeting tab: applied
//! at once where the target is unprotected, otherwise into the caller's draft change request
//! (`changes::service::copy_targeting` decides, through `propose`).

use super::encode;
use crate::changes::service::Copied;
use crate::db::begin_write;
use crate::error::AppError;
use crate::http::commands;
use crate::projects::service as projects;
use crate::web::{see_other, sentence, Flash, PageResult, ProjectCtx, WebForm};
use axum::extract::Path;
use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct FlagPath {
    #[allow(dead_code)]
    project: String,
    key: String,
}

#[derive(Deserialize)]
pub(super) struct CopyForm {
    #[serde(default)]
    source: String,
    #[serde(default)]
    target: String,
}

pub(super) async fn copy_targeting(
    ctx: ProjectCtx,
    Path(p): Path<FlagPath>,
    WebForm(f): WebForm<CopyForm>,
) -> PageResult {
    let access = &ctx.who;
    let targeting_of = |env: &str| {
        format!(
            "/projects/{}/flags/{}/targeting?env={}",
            access.project.key,
            encode(&p.key),
            encode(env)
        )
    };
    let back = targeting_of(&f.source);
    let mut tx = begin_write(&ctx.app.db).await?;
    let from = projects::environment(&mut tx, &access.project, &f.source).await?;
    let to = projects::environment(&mut tx, &access.project, &f.target).await;
    let copied = match to {
        Ok(to) => {
            commands::copy_targeting(&mut tx, access, &p.key, &from, &to, ctx.app.now()).await
        }
        Err(e) => Err(e),
    };
    match ctx.app.writes.commit_if_ok(tx, copied).await {
        Ok(Copied::Staged(cr)) => {
            let message = format!(
                "Added to your draft change request #{}: {} gets the targeting of {} once the \
                 request is approved and applied.",
                cr.id, f.target, f.source
            );
            ctx.done(message, &crate::web::href::change_request(cr.id))
                .await
        }
        Ok(Copied::Applied(_)) => {
            let message = format!("Copied the targeting of {} to {}.", f.source, f.target);
            ctx.done(message, &targeting_of(&f.target)).await
        }
        // A missing target, nothing to copy, an unreadable source: said on the page.
        Err(e @ (AppError::Invalid(_) | AppError::Conflict { .. } | AppError::NotFound(_))) => {
            let message = match &e {
                AppError::Invalid(fields) => fields
                    .first()
                    .map(|f| f.message.clone())
                    .unwrap_or_default(),
                other => other.to_string(),
            };
            Flash::set(&ctx.session, "error", sentence(&message)).await;
            Ok(see_other(&back))
        }
        Err(e) => Err(e.into()),
    }
}
