//! The emergency kill switch on the flag page (off at once, even where protected, with a
//! mandatory reason) and an approver's acknowledgement of it afterwards.

use crate::authz::Action;
use crate::changes::service;
use crate::db::begin_write;
use crate::error::{AppError, AppResult};
use crate::http::commands;
use crate::projects::service as projects;
use crate::web::href::flag as flag_href;
use crate::web::{see_other, sentence, Flash, PageResult, ProjectCtx, WebForm};
use axum::extract::Path;
use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct FlagEnvPath {
    key: String,
    env: String,
}

#[derive(Deserialize)]
pub(super) struct KillForm {
    #[serde(default)]
    reason: String,
}

/// Field errors, refusals and conflicts come back as a flash on the page the form was on.
async fn flash_outcome(ctx: &ProjectCtx, done: AppResult<String>, back: &str) -> PageResult {
    match done {
        Ok(msg) => Flash::set(&ctx.session, "success", msg).await,
        Err(AppError::Invalid(fields)) => {
            let msg = fields
                .first()
                .map(|f| f.message.clone())
                .unwrap_or_default();
            Flash::set(&ctx.session, "error", sentence(&msg)).await
        }
        Err(AppError::Forbidden(m) | AppError::Conflict { message: m, .. }) => {
            Flash::set(&ctx.session, "error", sentence(&m)).await
        }
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(back))
}

pub(super) async fn kill_flag(
    ctx: ProjectCtx,
    Path(p): Path<FlagEnvPath>,
    WebForm(f): WebForm<KillForm>,
) -> PageResult {
    let access = &ctx.who;
    let mut tx = begin_write(&ctx.app.db).await?;
    let env = projects::environment(&mut tx, &access.project, &p.env).await?;
    ctx.require(Action::KillSwitch {
        protected: env.protected,
    })?;
    let (who, project) = (&access.identity, &access.project);
    let step = service::kill(
        &mut tx,
        who,
        project,
        &p.key,
        &env,
        &f.reason,
        ctx.app.now(),
    )
    .await;
    let done = ctx.app.writes.commit_if_ok(tx, step).await.map(|_| {
        format!(
            "Emergency kill: {} is off in {}. An approver acknowledges it on the change requests page.",
            p.key, env.key
        )
    });
    // Not being allowed at all is a 403, like every other refused form; a missing reason or a
    // flag already off goes back to the flag page as a message.
    if let Err(AppError::Forbidden(m)) = done {
        return Err(AppError::Forbidden(m).into());
    }
    flash_outcome(&ctx, done, &flag_href(&access.project.key, &p.key)).await
}

#[derive(Deserialize)]
pub(super) struct KillPath {
    id: i64,
}

#[derive(Deserialize)]
pub(super) struct AcknowledgeForm {
    #[serde(default)]
    note: String,
    /// The flag's key when sent from the flag page's banner, to come back to it.
    #[serde(default)]
    flag: String,
}

pub(super) async fn acknowledge_kill(
    ctx: ProjectCtx,
    Path(p): Path<KillPath>,
    WebForm(f): WebForm<AcknowledgeForm>,
) -> PageResult {
    let mut tx = begin_write(&ctx.app.db).await?;
    let step = commands::acknowledge_kill(&mut tx, &ctx.who, p.id, &f.note, ctx.app.now()).await;
    let back = match f.flag.as_str() {
        "" => "/change-requests".to_string(),
        key => flag_href(&ctx.who.project.key, key),
    };
    let done = ctx.app.writes.commit_if_ok(tx, step).await.map(|k| {
        format!(
            "Acknowledged the emergency kill of {} in {}.",
            k.flag, k.environment
        )
    });
    flash_outcome(&ctx, done, &back).await
}
