//! `/change-requests/{id}`: one request with its changes as readable diffs, approvals,
//! comments, and the actions this person may take in its state (the state machine decides).

use super::{request_href, state_class};
use crate::audit::describe::{self, Line};
use crate::changes::change_request::{decide, Asker, Facts, Transition};
use crate::changes::service::{self, ChangeRequestView};
use crate::error::{AppError, AppResult};
use crate::projects::store as projects;
use crate::web::href::flag as flag_href;
use crate::web::text::short_time;
use crate::web::{
    render_form, see_other, sentence, Errors, Flash, Layout, PageResult, UserCtx, WebForm,
};
use askama::Template;
use axum::extract::Path;
use chrono::{NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;

/// What this person may do with the request now.
#[derive(Default)]
struct Acts {
    submit: bool,
    approve: bool,
    reject: bool,
    apply: bool,
    schedule: bool,
    cancel: bool,
    edit: bool,
    refresh: bool,
    comment: bool,
    /// Why there is no approve button for someone who reviews elsewhere ("" otherwise).
    review_note: &'static str,
}

impl Acts {
    fn any_workflow(&self) -> bool {
        self.submit
            || self.approve
            || self.reject
            || self.apply
            || self.schedule
            || self.cancel
            || self.refresh
    }
}

struct ItemRow {
    summary: String,
    flag: String,
    flag_href: String,
    conflict: bool,
    lines: Vec<Line>,
    remove_href: String,
}

/// One flag's configuration in the request's environment, before and after, line by line; a
/// line is marked when the other side does not have it.
struct ConfigView {
    flag: String,
    flag_href: String,
    before: Vec<(&'static str, String)>,
    after: Vec<(&'static str, String)>,
}

impl ConfigView {
    fn of(project: &str, c: service::FlagConfigurations, names: &describe::Names) -> ConfigView {
        let before = describe::configuration(&c.before, names);
        let after = describe::configuration(&c.after, names);
        let mark = |lines: &[String], other: &[String], class| {
            lines
                .iter()
                .map(|l| (if other.contains(l) { "ctx" } else { class }, l.clone()))
                .collect()
        };
        ConfigView {
            flag_href: flag_href(project, &c.flag),
            before: mark(&before, &after, "del"),
            after: mark(&after, &before, "add"),
            flag: c.flag,
        }
    }
}

/// What the person typed, kept when a form comes back with errors.
#[derive(Default)]
struct Typed {
    title: String,
    reason: String,
    reject_reason: String,
    at: String,
    body: String,
}

#[derive(Template)]
#[template(path = "changes/show.html")]
struct RequestPage {
    layout: Layout,
    href: String,
    cr: ChangeRequestView,
    state: &'static str,
    state_class: &'static str,
    created: String,
    updated: String,
    scheduled: String,
    items: Vec<ItemRow>,
    configs: Vec<ConfigView>,
    approvals: Vec<(String, String)>,
    comments: Vec<(String, String, String)>,
    acts: Acts,
    typed: Typed,
    errors: Errors,
}

async fn acts_for(ctx: &UserCtx, cr: &ChangeRequestView) -> AppResult<Acts> {
    let who = ctx.identity();
    let mut conn = ctx.app.db.acquire().await?;
    let (role, production) = match projects::project_by_key(&mut conn, &cr.project).await? {
        Some(p) => (
            projects::role_of(&mut conn, p.id, who.user.id).await?,
            projects::environment(&mut conn, p.id, &cr.environment)
                .await?
                .is_some_and(|e| e.production),
        ),
        None => (None, false),
    };
    let principal = crate::authz::reach::principal(who, role);
    let mine = cr.author_id == who.user.id;
    let facts = Facts {
        state: cr.state,
        author_id: cr.author_id,
        items: cr.items.len(),
        approvals: cr.approvals.len(),
        approved_by_asker: cr.approvals.iter().any(|a| a.user_id == who.user.id),
        required_approvals: usize::try_from(cr.required_approvals).unwrap_or(1),
        lowers_protection: cr
            .items
            .iter()
            .any(|i| i.kind == "protection")
            .then_some(production),
        stale_draft: crate::clock::parse_stamp(&cr.updated_at).is_some_and(|at| {
            crate::changes::change_request::is_stale_draft(cr.state, at, ctx.app.now())
        }),
    };
    let asker = Asker::Person {
        user_id: who.user.id,
        principal,
    };
    let may = |t: Transition| decide(t, &facts, asker, Some("-")).is_ok();
    let approve = may(Transition::Approve) && !facts.approved_by_asker;
    let review_note = match (approve, cr.state == crate::changes::State::InReview) {
        (false, true) if mine => "You wrote this request: somebody else approves it.",
        (false, true) if facts.approved_by_asker => "You approved this request.",
        _ => "",
    };
    Ok(Acts {
        submit: may(Transition::Submit),
        approve,
        reject: may(Transition::Reject),
        apply: may(Transition::Apply),
        schedule: may(Transition::Schedule),
        cancel: may(Transition::Cancel),
        edit: may(Transition::Edit) && cr.state == crate::changes::State::Draft,
        refresh: may(Transition::Refresh),
        comment: may(Transition::Comment),
        review_note,
    })
}

async fn page(ctx: &UserCtx, cr: ChangeRequestView, typed: Typed, errors: Errors) -> PageResult {
    let acts = acts_for(ctx, &cr).await?;
    let href = request_href(cr.id);
    let mut conn = ctx.app.db.acquire().await?;
    let names = service::names(&mut conn, &cr.project).await?;
    let configs = service::configurations(&mut conn, &cr)
        .await?
        .into_iter()
        .map(|c| ConfigView::of(&cr.project, c, &names))
        .collect();
    drop(conn);
    let items = cr
        .items
        .iter()
        .map(|i| {
            let flag = i.flag.clone().unwrap_or_default();
            ItemRow {
                summary: i.summary.clone(),
                flag_href: if flag.is_empty() {
                    String::new()
                } else {
                    flag_href(&cr.project, &flag)
                },
                flag,
                conflict: i.conflict,
                lines: describe::item(&i.kind, &i.before, &i.after, &names),
                remove_href: format!("{href}/items/{}/remove", i.id),
            }
        })
        .collect();
    let title = if cr.title.is_empty() {
        format!("Draft change request #{}", cr.id)
    } else {
        format!("#{} {}", cr.id, cr.title)
    };
    let page = RequestPage {
        layout: Layout::new(&ctx.session, Some(ctx.identity()), title, "changes").await,
        href,
        state: cr.state.as_str(),
        state_class: state_class(cr.state),
        created: short_time(&cr.created_at),
        updated: short_time(&cr.updated_at),
        scheduled: cr
            .scheduled_at
            .as_deref()
            .map(short_time)
            .unwrap_or_default(),
        items,
        configs,
        approvals: cr
            .approvals
            .iter()
            .map(|a| (a.user.clone(), short_time(&a.at)))
            .collect(),
        comments: cr
            .comments
            .iter()
            .map(|c| (c.author.clone(), short_time(&c.created_at), c.body.clone()))
            .collect(),
        acts,
        typed,
        errors,
        cr,
    };
    render_form(&page, &page.errors)
}

pub(super) async fn show_request(ctx: UserCtx, Path(id): Path<i64>) -> PageResult {
    let cr = service::get(&ctx.app.db, ctx.identity(), id).await?;
    let typed = Typed {
        title: cr.title.clone(),
        reason: cr.reason.clone(),
        ..Typed::default()
    };
    page(&ctx, cr, typed, Errors::default()).await
}

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
