//! The flag page's Usage tab: per environment, how often SDKs evaluated the flag over the last
//! two weeks (a server-drawn chart with its numbers in a table), its variants, and the
//! applications connected to the project. The numbers are `usage::flag_usage`'s, as in the API.

use super::short_time;
use crate::db::Conn;
use crate::projects::Project;
use crate::usage::{self, DayCount, EnvUsage, FlagUsage, VariantCount, WINDOW_DAYS};
use crate::web::chart;
use crate::web::PageError;
use chrono::{DateTime, NaiveDate, Utc};

pub struct UsageView {
    /// No SDK has ever reported this flag: the tab shows how to connect one.
    pub never_reported: bool,
    pub tokens_href: String,
    pub days: i64,
    pub envs: Vec<EnvView>,
    pub apps: Vec<AppView>,
}

pub struct EnvView {
    pub key: String,
    pub name: String,
    pub protected: bool,
    /// Counts with thousands separators.
    pub yes: String,
    pub no: String,
    pub total: String,
    pub yes_share: String,
    pub last_seen: String,
    /// SVG markup from `web::chart`, escaped where it carries text.
    pub chart: String,
    pub days: Vec<(String, i64, i64)>,
    /// (variant, count with separators), most used first.
    pub variants: Vec<(String, String)>,
}

pub struct AppView {
    pub environment: String,
    pub protected: bool,
    pub name: String,
    pub instance: String,
    pub sdk: String,
    pub first_seen: String,
    pub last_seen: String,
}

pub async fn usage_view(
    conn: &mut Conn,
    project: &Project,
    key: &str,
    now: DateTime<Utc>,
) -> Result<UsageView, PageError> {
    let found: FlagUsage = usage::flag_usage(conn, project, key, now).await?;
    Ok(UsageView {
        never_reported: found.never_reported(),
        tokens_href: format!("/projects/{}/tokens", project.key),
        days: WINDOW_DAYS,
        envs: found.environments.into_iter().map(env_view).collect(),
        apps: found
            .applications
            .into_iter()
            .map(|a| AppView {
                environment: a.environment,
                protected: a.environment_protected,
                name: a.app_name,
                instance: a.instance_id,
                sdk: a.sdk_version,
                first_seen: short_time(&a.first_seen),
                last_seen: short_time(&a.last_seen),
            })
            .collect(),
    })
}

fn env_view(e: EnvUsage) -> EnvView {
    let total = e.total();
    let description = format!(
        "Evaluations per day in {} over the last {WINDOW_DAYS} days: {} yes, {} no{}",
        e.key,
        e.yes,
        e.no,
        busiest(&e.days).map_or(String::new(), |(day, n)| format!(
            "; busiest {day} with {n}"
        )),
    );
    EnvView {
        chart: chart::daily_bars(&e.days, &description),
        yes_share: if total > 0 {
            format!("{}% yes", (e.yes * 100 + total / 2) / total)
        } else {
            String::new()
        },
        last_seen: e
            .last_seen
            .as_deref()
            .map(|h| format!("{} UTC", short_time(h)))
            .unwrap_or_default(),
        days: e
            .days
            .iter()
            .map(|d| (day_name(&d.day), d.yes, d.no))
            .collect(),
        key: e.key,
        name: e.name,
        protected: e.protected,
        yes: thousands(e.yes),
        no: thousands(e.no),
        total: thousands(total),
        variants: e
            .variants
            .into_iter()
            .map(|v: VariantCount| (v.name, thousands(v.count)))
            .collect(),
    }
}

fn busiest(days: &[DayCount]) -> Option<(String, i64)> {
    days.iter()
        .filter(|d| d.yes + d.no > 0)
        .max_by_key(|d| d.yes + d.no)
        .map(|d| (day_name(&d.day), d.yes + d.no))
}

/// "Tue Nov 24" for a `YYYY-MM-DD` day, as the chart labels it.
fn day_name(day: &str) -> String {
    NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map(|d| d.format("%a %b %-d").to_string())
        .unwrap_or_else(|_| day.to_string())
}

/// 1234567 -> "1,234,567".
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_get_thousands_separators() {
        for (n, s) in [
            (0, "0"),
            (999, "999"),
            (1_000, "1,000"),
            (1_234_567, "1,234,567"),
        ] {
            assert_eq!(thousands(n), s);
        }
    }
}
