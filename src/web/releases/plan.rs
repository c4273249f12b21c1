//! `/projects/{p}/flags/{key}/environments/{e}/plan`: the flag's release plan there — the
//! milestones as a progress bar with the current exposure, the guards' values against their
//! baselines, what happened, advance/pause/resume/stop, the review after a rollback — or, when
//! none is in progress, the form that starts one.

use super::timeline;
use crate::authz::Action;
use crate::changes::service::Outcome;
use crate::db::begin_write;
use crate::error::AppError;
use crate::http::commands;
use crate::projects::service as projects;
use crate::rollout::guard::{Aggregation, Guard};
use crate::rollout::{
    rollback, steps, templates, view, Move, OnBreach, PlanRequest, PlanView, State,
};
use crate::state::AppState;
use crate::web::{render_with, Errors, Layout, PageResult, ProjectCtx, WebForm};
use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use std::collections::BTreeMap;

pub(super) fn routes() -> Router<AppState> {
    let base = "/projects/{project}/flags/{key}/environments/{env}/plan";
    Router::new()
        .route(base, get(show_plan).post(start_plan))
        .route(&format!("{base}/{{verb}}"), post(step_plan))
        .route(&format!("{base}/reviews/{{id}}"), post(review))
}

#[derive(Deserialize)]
struct PlanPath {
    key: String,
    env: String,
}

/// A number as a person reads it: at most four decimals.
pub(super) fn shown(v: &Option<f64>) -> String {
    match v {
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.4}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string(),
        None => "—".into(),
    }
}

/// "Dec 7 14:03:25": stamps as a person reads them (UTC, as everywhere in the app).
pub(super) fn when(stamp: &str) -> String {
    crate::clock::parse_stamp(stamp)
        .map(|t| t.format("%b %-d %H:%M:%S").to_string())
        .unwrap_or_else(|| stamp.to_string())
}

pub(super) fn percent(v: &f64) -> String {
    format!("{:.2} %", v * 100.0)
}

#[derive(Template)]
#[template(path = "releases/plan.html")]
struct PlanPage {
    layout: Layout,
    project: String,
    flag: String,
    env: String,
    protected: bool,
    plan: Option<PlanView>,
    in_progress: bool,
    can_step: bool,
    can_review: bool,
    can_start: bool,
    templates: Vec<(String, String)>,
    form: StartForm,
    errors: Errors,
    chart: String,
}

#[derive(Deserialize, Default, Clone)]
struct StartForm {
    #[serde(default)]
    template: String,
    #[serde(default)]
    on_breach: String,
    #[serde(default)]
    auto_advance: Option<String>,
    #[serde(default)]
    metric: String,
    #[serde(default)]
    aggregation: String,
    #[serde(default)]
    denominator: String,
    #[serde(default)]
    threshold: String,
    #[serde(default)]
    relative: Option<String>,
    #[serde(default)]
    window: String,
    #[serde(default)]
    sustain: String,
}

impl StartForm {
    fn blank() -> StartForm {
        StartForm {
            template: "gradual".into(),
            on_breach: "previous".into(),
            auto_advance: Some("on".into()),
            aggregation: "ratio".into(),
            threshold: "1.5".into(),
            relative: Some("on".into()),
            window: "300".into(),
            sustain: "120".into(),
            ..StartForm::default()
        }
    }

    fn request(&self) -> Result<PlanRequest, AppError> {
        let mut guards = Vec::new();
        if !self.metric.trim().is_empty() {
            let aggregation =
                serde_json::from_value::<Aggregation>(serde_json::json!(self.aggregation))
                    .map_err(|_| AppError::invalid("aggregation", "choose an aggregation"))?;
            let number = |field: &'static str, v: &str| {
                v.trim()
                    .parse::<f64>()
                    .map_err(|_| AppError::invalid(field, "give a number"))
            };
            guards.push(Guard {
                metric: self.metric.trim().into(),
                aggregation,
                denominator: Some(self.denominator.trim().to_string()).filter(|d| !d.is_empty()),
                labels: BTreeMap::new(),
                threshold: number("threshold", &self.threshold)?,
                relative_to_baseline: self.relative.is_some(),
                window_seconds: number("window", &self.window)? as i64,
                sustain_seconds: number("sustain", &self.sustain)? as i64,
            });
        }
        Ok(PlanRequest {
            template: self.template.clone(),
            on_breach: if self.on_breach == "off" {
                OnBreach::Off
            } else {
                OnBreach::Previous
            },
            auto_advance: self.auto_advance.is_some(),
            guards,
        })
    }
}

async fn page(ctx: &ProjectCtx, p: &PlanPath, form: StartForm, errors: Errors) -> PageResult {
    ctx.require(Action::ViewProject)?;
    let access = &ctx.who;
    let now = ctx.app.now();
    let mut conn = ctx.app.db.acquire().await?;
    let env = projects::environment(&mut conn, &access.project, &p.env).await?;
    crate::catalog::service::live_flag(&mut conn, &access.project, &p.key).await?;
    let plan = view::latest(&mut conn, &access.project, &env, &p.key, now).await?;
    let offered = templates::offered(&mut conn, &access.project).await?;
    let chart =
        timeline::chart(&mut conn, &access.project, &env, &p.key, plan.as_ref(), now).await?;
    let in_progress = plan.as_ref().is_some_and(|v| v.state.in_progress());
    let title = format!("Release plan · {} · {}", p.key, env.key);
    let page = PlanPage {
        layout: Layout::new(&ctx.session, Some(&access.identity), title, "projects").await,
        project: access.project.key.clone(),
        flag: p.key.clone(),
        env: env.key.clone(),
        protected: env.protected,
        in_progress,
        can_step: access.can(Action::StepReleasePlan),
        can_review: access.can(Action::ReviewRollback),
        can_start: access.can(Action::change_in(env.protected)),
        templates: offered.into_iter().map(|t| (t.key, t.name)).collect(),
        plan,
        form,
        errors,
        chart,
    };
    let status = if page.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_with(&page, status)
}

async fn show_plan(ctx: ProjectCtx, Path(p): Path<PlanPath>) -> PageResult {
    page(&ctx, &p, StartForm::blank(), Errors::default()).await
}

fn back(ctx: &ProjectCtx, p: &PlanPath) -> String {
    crate::href::release_plan(&ctx.who.project.key, &p.key, &p.env)
}

async fn start_plan(
    ctx: ProjectCtx,
    Path(p): Path<PlanPath>,
    WebForm(form): WebForm<StartForm>,
) -> PageResult {
    let started = match form.request() {
        Ok(req) => {
            let mut tx = begin_write(&ctx.app.db).await?;
            let env = projects::environment(&mut tx, &ctx.who.project, &p.env).await?;
            let done =
                commands::start_release_plan(&mut tx, &ctx.who, &env, &p.key, req, ctx.app.now())
                    .await;
            ctx.app.writes.commit_if_ok(tx, done).await
        }
        Err(e) => Err(e),
    };
    match started {
        Ok(Outcome::Staged(cr)) => {
            let msg = format!(
                "The plan is in your change request #{}: submit it for review; once applied, its milestones advance without another review.",
                cr.id
            );
            ctx.done(msg, &crate::href::change_request(cr.id)).await
        }
        Ok(Outcome::Applied(_)) => ctx.done("The release plan started.", &back(&ctx, &p)).await,
        Err(AppError::InvalidPaths(paths)) => {
            let errors = paths
                .into_iter()
                .map(|e| crate::error::FieldError {
                    field: "guard",
                    message: format!("{}: {}", e.field, e.message),
                })
                .collect();
            page(&ctx, &p, form, Errors(errors)).await
        }
        Err(AppError::Conflict { message, .. }) => {
            page(&ctx, &p, form, Errors::one("template", message)).await
        }
        Err(e) => {
            let errors = Errors::from_app(e)?;
            page(&ctx, &p, form, errors).await
        }
    }
}

#[derive(Deserialize)]
struct StepPath {
    key: String,
    env: String,
    verb: String,
}

async fn step_plan(ctx: ProjectCtx, Path(s): Path<StepPath>) -> PageResult {
    let m = match s.verb.as_str() {
        "advance" => Move::Advance,
        "pause" => Move::Pause,
        "resume" => Move::Resume,
        "stop" => Move::Cancel,
        _ => return Err(AppError::not_found("there is no such step").into()),
    };
    let p = PlanPath {
        key: s.key,
        env: s.env,
    };
    let mut tx = begin_write(&ctx.app.db).await?;
    let env = projects::environment(&mut tx, &ctx.who.project, &p.env).await?;
    ctx.require(Action::StepReleasePlan)?;
    let (actor, project) = (ctx.who.actor(), &ctx.who.project);
    let moved = steps::step(&mut tx, actor, project, &env, &p.key, m, ctx.app.now()).await;
    let done = ctx
        .app
        .writes
        .commit_if_ok(tx, moved)
        .await
        .map(|plan| match plan.state {
            State::Completed => "The release plan is complete.".to_string(),
            State::Cancelled => "The release plan stopped; the flag keeps what it serves.".into(),
            State::Paused => "Paused: the plan will not advance until resumed.".into(),
            _ => format!(
                "Now at {}.",
                plan.milestones
                    .get(plan.at())
                    .map(|m| m.name.as_str())
                    .unwrap_or("?")
            ),
        });
    ctx.finish(done, &back(&ctx, &p)).await
}

#[derive(Deserialize)]
struct ReviewPath {
    key: String,
    env: String,
    id: i64,
}

#[derive(Deserialize)]
struct ReviewForm {
    #[serde(default)]
    note: String,
}

async fn review(
    ctx: ProjectCtx,
    Path(r): Path<ReviewPath>,
    WebForm(f): WebForm<ReviewForm>,
) -> PageResult {
    let p = PlanPath {
        key: r.key,
        env: r.env,
    };
    let mut tx = begin_write(&ctx.app.db).await?;
    let env = projects::environment(&mut tx, &ctx.who.project, &p.env).await?;
    let done = match steps::latest(&mut tx, &ctx.who.project, &env, &p.key).await {
        Ok(plan) => match ctx.who.require(Action::ReviewRollback) {
            Ok(()) => {
                let (who, project) = (&ctx.who.identity, &ctx.who.project);
                let now = ctx.app.now();
                rollback::complete_review(&mut tx, who, project, &plan, r.id, &f.note, now).await
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let done = ctx.app.writes.commit_if_ok(tx, done).await;
    let done = match done {
        Err(AppError::Invalid(fields)) => Err(AppError::conflict(
            "invalid-note",
            fields
                .first()
                .map(|f| f.message.clone())
                .unwrap_or_default(),
        )),
        other => other.map(|_| "Review completed.".to_string()),
    };
    ctx.finish(done, &back(&ctx, &p)).await
}
