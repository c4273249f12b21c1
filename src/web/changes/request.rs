//! `/change-requests/{id}`: one request with its changes as readable diffs, approvals,
//! comments, and the actions this person may take in its state (the state machine decides).
//! Taking them is `actions`.

use super::{request_href, state_class};
use crate::audit::describe::{self, Line};
use crate::changes::change_request::{decide, Asker, Facts, Transition};
use crate::changes::service::{self, ChangeRequestView};
use crate::error::AppResult;
use crate::projects::store as projects;
use crate::web::href::flag as flag_href;
use crate::web::text::short_time;
use crate::web::{render_form, Errors, Layout, PageResult, UserCtx};
use askama::Template;
use axum::extract::Path;

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
pub(super) struct Typed {
    pub title: String,
    pub reason: String,
    pub reject_reason: String,
    pub at: String,
    pub body: String,
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

pub(super) async fn page(
    ctx: &UserCtx,
    cr: ChangeRequestView,
    typed: Typed,
    errors: Errors,
) -> PageResult {
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
