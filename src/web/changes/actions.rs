//! The actions on one change request (submit, approve, reject, apply, schedule, cancel,
//! refresh, comment, remove a change): each posts, then comes back to the request's page.

use super::request::{page, Typed};
use super::request_href;
use crate::changes::service::{self, ChangeRequestView};
use crate::error::{AppError, AppResult};
use crate::web::{see_other, sentence, Errors, Flash, PageResult, UserCtx, WebForm};
use axum::extract::Path;
use chrono::{NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;

/// How a step ends: a flash and back to the request; field errors show the page again with what
/// was typed; a refusal (403) or a wrong state or conflict (409) is a flash on the request page.
async fn finish(
    ctx: &UserCtx,
    id: i64,
    done: AppResult<ChangeRequestView>,
    ok: &str,
    typed: Typed,
    rename: Option<(&str, &'static str)>,
) -> PageResult {
    let back = request_href(id);
    match done {
        Ok(_) => ctx.done(ok, &back).await,
        Err(AppError::Invalid(mut fields)) => {
            if let Some((from, to)) = rename {
                fields
                    .iter_mut()
                    .filter(|f| f.field == from)
                    .for_each(|f| f.field = to);
            }
            let cr = service::get(&ctx.app.db, ctx.identity(), id).await?;
            page(ctx, cr, typed, Errors(fields)).await
        }
        Err(AppError::Forbidden(m) | AppError::Conflict { message: m, .. }) => {
            Flash::set(&ctx.session, "error", sentence(&m)).await;
            Ok(see_other(&back))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub(super) struct SubmitForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    reason: String,
}

pub(super) async fn submit_request(
    ctx: UserCtx,
    Path(id): Path<i64>,
    WebForm(f): WebForm<SubmitForm>,
) -> PageResult {
    let (app, who) = (&ctx.app, ctx.identity());
    let done = service::submit(&app.writes, who, id, &f.title, &f.reason, app.now()).await;
    let typed = Typed {
        title: f.title,
        reason: f.reason,
        ..Typed::default()
    };
    finish(&ctx, id, done, "Submitted for review.", typed, None).await
}

pub(super) async fn approve_request(ctx: UserCtx, Path(id): Path<i64>) -> PageResult {
    let done = service::approve(&ctx.app.writes, ctx.identity(), id, ctx.app.now()).await;
    finish(&ctx, id, done, "Approved.", Typed::default(), None).await
}

#[derive(Deserialize)]
pub(super) struct RejectForm {
    #[serde(default)]
    reason: String,
}

pub(super) async fn reject_request(
    ctx: UserCtx,
    Path(id): Path<i64>,
    WebForm(f): WebForm<RejectForm>,
) -> PageResult {
    let done = service::reject(
        &ctx.app.writes,
        ctx.identity(),
        id,
        &f.reason,
        ctx.app.now(),
    )
    .await;
    let typed = Typed {
        reject_reason: f.reason,
        ..Typed::default()
    };
    let rename = Some(("reason", "reject_reason"));
    finish(&ctx, id, done, "Rejected.", typed, rename).await
}

pub(super) async fn apply_request(ctx: UserCtx, Path(id): Path<i64>) -> PageResult {
    let done = service::apply(&ctx.app.writes, ctx.identity(), id, ctx.app.now()).await;
    let ok = "Applied: the changes are live.";
    finish(&ctx, id, done, ok, Typed::default(), None).await
}

#[derive(Deserialize, Default)]
pub(super) struct CancelForm {
    /// The inbox tab a one-click Cancel (of a stale draft) was sent from, to go back to it.
    #[serde(default)]
    from: String,
}

pub(super) async fn cancel_request(
    ctx: UserCtx,
    Path(id): Path<i64>,
    WebForm(f): WebForm<CancelForm>,
) -> PageResult {
    let done = service::cancel(&ctx.app.writes, ctx.identity(), id, ctx.app.now()).await;
    let tab = match f.from.as_str() {
        tab @ ("mine" | "open" | "waiting") => tab,
        _ => return finish(&ctx, id, done, "Cancelled.", Typed::default(), None).await,
    };
    let back = format!("/change-requests?tab={tab}");
    match done {
        Ok(_) => ctx.done(format!("Cancelled the draft #{id}."), &back).await,
        Err(AppError::Forbidden(m) | AppError::Conflict { message: m, .. }) => {
            Flash::set(&ctx.session, "error", sentence(&m)).await;
            Ok(see_other(&back))
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn refresh_request(ctx: UserCtx, Path(id): Path<i64>) -> PageResult {
    let done = service::refresh(&ctx.app.writes, ctx.identity(), id, ctx.app.now()).await;
    let ok = "Refreshed on the live configuration: it needs its approvals again.";
    finish(&ctx, id, done, ok, Typed::default(), None).await
}

#[derive(Deserialize)]
pub(super) struct ScheduleForm {
    #[serde(default)]
    at: String,
}

/// A `datetime-local` value ("2030-01-31T09:00"), read as UTC; RFC 3339 is accepted too.
fn parse_local(s: &str) -> AppResult<chrono::DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return Err(AppError::invalid("at", "choose a date and time"));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| Utc.from_utc_datetime(&t))
        .map_or_else(|| service::parse_time("at", s), Ok)
}

pub(super) async fn schedule_request(
    ctx: UserCtx,
    Path(id): Path<i64>,
    WebForm(f): WebForm<ScheduleForm>,
) -> PageResult {
    let (app, who) = (&ctx.app, ctx.identity());
    let done = match parse_local(&f.at) {
        Ok(at) => service::schedule(&app.writes, who, id, at, app.now()).await,
        Err(e) => Err(e),
    };
    let typed = Typed {
        at: f.at,
        ..Typed::default()
    };
    finish(&ctx, id, done, "Scheduled.", typed, None).await
}

#[derive(Deserialize)]
pub(super) struct CommentForm {
    #[serde(default)]
    body: String,
}

pub(super) async fn comment_request(
    ctx: UserCtx,
    Path(id): Path<i64>,
    WebForm(f): WebForm<CommentForm>,
) -> PageResult {
    let done = service::comment(&ctx.app.writes, ctx.identity(), id, &f.body, ctx.app.now()).await;
    let typed = Typed {
        body: f.body,
        ..Typed::default()
    };
    finish(&ctx, id, done, "Comment added.", typed, None).await
}

pub(super) async fn remove_item(ctx: UserCtx, Path((id, item)): Path<(i64, i64)>) -> PageResult {
    let done = service::remove_item(&ctx.app.writes, ctx.identity(), id, item, ctx.app.now()).await;
    finish(&ctx, id, done, "Change removed.", Typed::default(), None).await
}

#[cfg(test)]
mod tests {
    use super::parse_local;

    #[test]
    fn a_datetime_local_value_reads_as_utc() {
        let t = parse_local("2030-01-31T09:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2030-01-31T09:00:00+00:00");
        assert!(parse_local("").is_err());
        assert!(parse_local("tomorrow").is_err());
    }
}
