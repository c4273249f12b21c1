//! The flag page's Lifecycle tab: the stages with the days spent in each, the release plans
//! under way, why the flag is stale
//! (each reason with its evidence), and the owner's marks: completed (with the outcome) and
//! snoozed (until a date, with a reason). Forms post here and come back to the tab.

use super::FlagPath;
use crate::authz::Action;
use crate::catalog::service::FlagDetail;
use crate::catalog::store as catalog_store;
use crate::db::begin_write;
use crate::error::{AppError, AppResult};
use crate::lifecycle::assess;
use crate::lifecycle::marks::{self, CompletionDraft, SnoozeDraft};
use crate::web::evidence::evidence_lines;
use crate::web::handler::ProjectCtx;
use crate::web::releases::brief::PlanBrief;
use crate::web::text::short_time;
use crate::web::{sentence, Flash, PageResult, WebForm};
use axum::extract::Path;
use serde::Deserialize;

/// A stage of the timeline.
pub struct StageView {
    pub stage: &'static str,
    pub entered: String,
    pub days: i64,
}

/// A stale reason: what it says, and its evidence as (label, value) lines.
pub struct ReasonView {
    pub message: String,
    pub evidence: Vec<(String, String)>,
}

/// What the tab shows.
#[derive(Default)]
pub struct LifecycleView {
    pub stages: Vec<StageView>,
    pub reasons: Vec<ReasonView>,
    /// (until, reason, by) while a snooze covers now, or one that has run out.
    pub snooze: Option<(String, String, String)>,
    pub snoozed_now: bool,
    /// (outcome, variant, note, by, at).
    pub completion: Option<(String, String, String, String, String)>,
    /// What everyone gets today per environment, and the code change (`everyone_now` fills it).
    pub everyone: Vec<crate::web::reports::view::EveryoneRow>,
    pub action: crate::web::reports::view::Spans,
    /// The release plans under way, one per environment at most, in the project's order.
    pub plans: Vec<PlanBrief>,
}

impl LifecycleView {
    pub fn of(d: &FlagDetail) -> LifecycleView {
        let Some(a) = &d.lifecycle else {
            return LifecycleView::default();
        };
        LifecycleView {
            stages: a
                .stages
                .iter()
                .map(|s| StageView {
                    stage: s.stage.as_str(),
                    entered: short_time(&crate::clock::stamp(s.entered_at)),
                    days: s.days,
                })
                .collect(),
            reasons: a
                .found
                .iter()
                .map(|r| ReasonView {
                    message: sentence(&r.message),
                    evidence: evidence_lines("", &r.evidence),
                })
                .collect(),
            snooze: a
                .snooze
                .as_ref()
                .map(|s| (short_time(&s.until), s.reason.clone(), s.by.clone())),
            snoozed_now: a.snoozed(),
            completion: a.completion.as_ref().map(|c| {
                (
                    c.outcome.clone(),
                    c.variant.clone().unwrap_or_default(),
                    c.note.clone(),
                    c.by.clone(),
                    short_time(&c.at),
                )
            }),
            everyone: Vec::new(),
            action: Vec::new(),
            plans: Vec::new(),
        }
    }

    /// Adds what everyone gets today and the code change removing the flag needs.
    pub async fn everyone_now(
        &mut self,
        conn: &mut crate::db::Conn,
        project: &crate::projects::Project,
        d: &FlagDetail,
    ) -> AppResult<()> {
        use crate::lifecycle::report::gather::what_everyone_gets;
        let value_type =
            crate::evaluation::ValueType::parse(&d.flag.value_type).unwrap_or_default();
        let completion = d.lifecycle.as_ref().and_then(|a| a.completion.as_ref());
        let (gets, action) =
            what_everyone_gets(conn, project, d.flag.id, value_type, completion).await?;
        self.everyone = gets.iter().map(Into::into).collect();
        self.action = crate::web::reports::view::spans(&sentence(&action.text));
        Ok(())
    }
}

#[derive(Deserialize)]
pub(super) struct CompleteForm {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    variant: String,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize)]
pub(super) struct SnoozeForm {
    #[serde(default)]
    until: String,
    #[serde(default)]
    reason: String,
}

/// What a form asks for.
enum Mark {
    Complete(CompletionDraft),
    Reopen,
    Snooze(SnoozeDraft),
    Unsnooze,
}

/// Applies the mark and assesses the flag again; a refusal or bad input comes back as a flash
/// on the tab, with nothing changed.
async fn mark(ctx: ProjectCtx, key: &str, m: Mark) -> PageResult {
    ctx.require(Action::EditFlag)?;
    let (actor, project, now) = (ctx.who.actor(), &ctx.who.project, ctx.app.now());
    let back = format!("{}?tab=lifecycle", super::flag_href(&project.key, key));
    let mut tx = begin_write(&ctx.app.db).await?;
    let done: AppResult<&str> = async {
        let said = match m {
            Mark::Complete(d) => {
                marks::complete(&mut tx, actor, project, key, d, now).await?;
                "Marked completed: remove it from the code, then archive it."
            }
            Mark::Reopen => {
                marks::reopen(&mut tx, actor, project, key, now).await?;
                "No longer marked completed."
            }
            Mark::Snooze(d) => {
                marks::snooze(&mut tx, actor, project, key, d, now).await?;
                "Snoozed: it is not counted as stale until that date."
            }
            Mark::Unsnooze => {
                marks::unsnooze(&mut tx, actor, project, key, now).await?;
                "Snooze ended."
            }
        };
        let flag = catalog_store::flag_by_key(&mut tx, project.id, key)
            .await?
            .ok_or_else(|| crate::catalog::service::flag_not_found(project, key))?;
        assess::refresh_flag(&mut tx, project, flag.id, key, now).await?;
        Ok(said)
    }
    .await;
    match ctx.app.writes.commit_if_ok(tx, done).await {
        Ok(said) => ctx.done(said, &back).await,
        Err(e @ (AppError::Invalid(_) | AppError::Conflict { .. })) => {
            Flash::set(&ctx.session, "error", sentence(&e.to_string())).await;
            Ok(crate::web::see_other(&back))
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn complete(
    ctx: ProjectCtx,
    Path(p): Path<FlagPath>,
    WebForm(f): WebForm<CompleteForm>,
) -> PageResult {
    let d = CompletionDraft {
        outcome: f.outcome,
        variant: Some(f.variant),
        note: Some(f.note),
    };
    mark(ctx, &p.key, Mark::Complete(d)).await
}

pub(super) async fn reopen(ctx: ProjectCtx, Path(p): Path<FlagPath>) -> PageResult {
    mark(ctx, &p.key, Mark::Reopen).await
}

pub(super) async fn snooze(
    ctx: ProjectCtx,
    Path(p): Path<FlagPath>,
    WebForm(f): WebForm<SnoozeForm>,
) -> PageResult {
    let d = SnoozeDraft {
        until: f.until,
        reason: f.reason,
    };
    mark(ctx, &p.key, Mark::Snooze(d)).await
}

pub(super) async fn unsnooze(ctx: ProjectCtx, Path(p): Path<FlagPath>) -> PageResult {
    mark(ctx, &p.key, Mark::Unsnooze).await
}
