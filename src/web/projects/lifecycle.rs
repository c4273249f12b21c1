//! A project's lifecycle page: flags created and archived per month, the median days from
//! creation to archive, and the stale count of each recorded day, as SVG charts with their
//! numbers in tables; and the health card of the project's overview (with a sparkline).

use crate::authz::Action;
use crate::db::Conn;
use crate::error::AppResult;
use crate::lifecycle::history::{self, DayRow, Numbers};
use crate::projects::service::Health;
use crate::projects::Project;
use crate::state::AppState;
use crate::web::chart::line::{self, DayValue};
use crate::web::chart::months::{self, MonthPair};
use crate::web::{render, Layout, PageResult, ProjectCtx};
use askama::Template;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Duration, NaiveDate, Utc};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/projects/{project}/lifecycle", get(show_lifecycle))
}

/// The health card of the overview: share of live flags not stale, and the last 30 days.
pub(super) struct HealthCard {
    pub percent: Option<i64>,
    pub stale: i64,
    pub live: i64,
    pub sparkline: String,
    pub recorded: usize,
}

pub(super) async fn health_card(
    conn: &mut Conn,
    project: &Project,
    now: DateTime<Utc>,
) -> AppResult<HealthCard> {
    let counts = history::store::counts_now(&mut *conn, project.id).await?;
    let since = now.date_naive() - Duration::days(29);
    let rows = history::store::days_since(
        &mut *conn,
        project.id,
        &since.format("%Y-%m-%d").to_string(),
    )
    .await?;
    let days = window(&rows, since, now.date_naive());
    let description = format!(
        "Stale flags per day over the last 30 days: {} days recorded, {} stale today",
        rows.len(),
        counts.stale_flags
    );
    Ok(HealthCard {
        percent: health(counts.live_flags, counts.stale_flags),
        stale: counts.stale_flags,
        live: counts.live_flags,
        sparkline: line::sparkline(&days, &description),
        recorded: rows.len(),
    })
}

fn health(live: i64, stale: i64) -> Option<i64> {
    Health {
        active: live,
        stale,
    }
    .percent()
}

/// Every day from `first` to `last`, with the recorded count or a gap.
fn window(rows: &[DayRow], first: NaiveDate, last: NaiveDate) -> Vec<DayValue> {
    first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|day| DayValue {
            value: rows
                .iter()
                .find(|r| r.day == day.format("%Y-%m-%d").to_string())
                .map(|r| r.stale_flags),
            day,
        })
        .collect()
}

/// One month of the table under the chart.
struct MonthRow {
    month: String,
    created: i64,
    archived: i64,
}

struct DayTableRow {
    day: String,
    stale: i64,
    live: i64,
    total: i64,
}

#[derive(Template)]
#[template(path = "projects/lifecycle.html")]
struct LifecyclePage {
    layout: Layout,
    key: String,
    name: String,
    can_manage: bool,
    health: Option<i64>,
    stale: i64,
    live: i64,
    median: String,
    archives: usize,
    created_total: i64,
    archived_total: i64,
    months_chart: String,
    months: Vec<MonthRow>,
    stale_chart: String,
    /// Newest first.
    days: Vec<DayTableRow>,
    window_days: i64,
}

fn days_word(n: f64) -> String {
    let shown = if n.fract() == 0.0 {
        format!("{n:.0}")
    } else {
        format!("{n:.1}")
    };
    format!("{shown} day{}", if n == 1.0 { "" } else { "s" })
}

fn page(layout: Layout, project: &Project, can_manage: bool, n: Numbers) -> LifecyclePage {
    let pairs: Vec<MonthPair> = n
        .months
        .iter()
        .map(|m| MonthPair {
            month: m.month.clone(),
            first: m.created,
            second: m.archived,
        })
        .collect();
    let created_total: i64 = n.months.iter().map(|m| m.created).sum();
    let archived_total: i64 = n.months.iter().map(|m| m.archived).sum();
    let months_chart = months::paired_bars(
        &pairs,
        ("created", "archived"),
        &format!(
            "Flags created and archived per month over the last {} months: {created_total} \
             created, {archived_total} archived",
            n.months.len()
        ),
    );
    let first = NaiveDate::parse_from_str(&n.since_day, "%Y-%m-%d").unwrap_or_default();
    let last = first + Duration::days(history::DAYS - 1);
    let stale_chart = line::daily_line(
        &window(&n.days, first, last),
        "stale",
        &format!(
            "Stale flags per day over the last {} days: {} days recorded, {} stale now",
            history::DAYS,
            n.days.len(),
            n.now.stale_flags
        ),
    );
    LifecyclePage {
        layout,
        key: project.key.clone(),
        name: project.name.clone(),
        can_manage,
        health: health(n.now.live_flags, n.now.stale_flags),
        stale: n.now.stale_flags,
        live: n.now.live_flags,
        median: n.median_days_to_archive.map(days_word).unwrap_or_default(),
        archives: n.archives,
        created_total,
        archived_total,
        months_chart,
        months: n
            .months
            .iter()
            .map(|m| MonthRow {
                month: months::month_label(&m.month, true),
                created: m.created,
                archived: m.archived,
            })
            .collect(),
        stale_chart,
        days: n
            .days
            .iter()
            .rev()
            .map(|d| DayTableRow {
                day: d.day.clone(),
                stale: d.stale_flags,
                live: d.live_flags,
                total: d.total_flags,
            })
            .collect(),
        window_days: history::DAYS,
    }
}

async fn show_lifecycle(ctx: ProjectCtx) -> PageResult {
    let mut conn = ctx.app.db.acquire().await?;
    let project = &ctx.who.project;
    let numbers = history::numbers(&mut conn, project, ctx.app.now()).await?;
    let layout = Layout::new(
        &ctx.session,
        Some(&ctx.who.identity),
        format!("{} · lifecycle", project.name),
        "projects",
    )
    .await;
    let can_manage = ctx.who.can(Action::ManageMembers);
    render(&page(layout, project, can_manage, numbers))
}
