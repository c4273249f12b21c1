//! A project's lifecycle over time: flags created and archived per month, the median days from
//! creation to archive, and the stale count of each day. The daily count is recorded by the
//! lifecycle job, once per UTC day (the first run of the day wins); days it did not run stay
//! absent, since their count cannot be known afterwards.

pub mod store;

use crate::clock::{parse_stamp, stamp};
use crate::db::Conn;
use crate::error::AppResult;
use crate::projects::Project;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use std::collections::HashMap;

pub use store::{Counts, DayRow};

/// Records today's counts of the project unless today already has them; true when written.
pub async fn record_today(conn: &mut Conn, project_id: i64, now: DateTime<Utc>) -> AppResult<bool> {
    let day = now.format("%Y-%m-%d").to_string();
    // Most runs find the day counted already: skip counting then.
    if store::day_recorded(&mut *conn, project_id, &day).await? {
        return Ok(false);
    }
    let counts = store::counts_now(&mut *conn, project_id).await?;
    Ok(store::record_day(conn, project_id, &day, counts, &stamp(now)).await?)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthCount {
    /// `YYYY-MM`.
    pub month: String,
    pub created: i64,
    pub archived: i64,
}

/// What the project's lifecycle page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Numbers {
    /// The last `MONTHS` months, oldest first, the current one last.
    pub months: Vec<MonthCount>,
    /// Over every archive ever audited; None before the first.
    pub median_days_to_archive: Option<f64>,
    pub archives: usize,
    /// The recorded days of the last `DAYS` days, oldest first (days not recorded are absent).
    pub days: Vec<DayRow>,
    /// The first day of that window, `YYYY-MM-DD`.
    pub since_day: String,
    pub now: Counts,
}

pub const MONTHS: u32 = 12;
pub const DAYS: i64 = 90;

pub async fn numbers(conn: &mut Conn, project: &Project, now: DateTime<Utc>) -> AppResult<Numbers> {
    let months = last_months(now.date_naive(), MONTHS);
    let first = format!("{}-01T00:00:00.000Z", months[0]);
    let created: HashMap<String, i64> = store::created_by_month(&mut *conn, project.id, &first)
        .await?
        .into_iter()
        .collect();
    let archivals = store::archivals(&mut *conn, project.id, &project.key).await?;
    let archived_at: Vec<String> = archivals.iter().map(|(at, _)| at.clone()).collect();
    let waits: Vec<i64> = archivals
        .iter()
        .filter_map(|(at, created)| Some((parse_stamp(at)? - parse_stamp(created)?).num_days()))
        .collect();
    let since_day = (now - Duration::days(DAYS - 1))
        .format("%Y-%m-%d")
        .to_string();
    Ok(Numbers {
        months: months
            .iter()
            .map(|m| MonthCount {
                month: m.clone(),
                created: created.get(m).copied().unwrap_or(0),
                archived: in_month(&archived_at, m),
            })
            .collect(),
        median_days_to_archive: median(&waits),
        archives: waits.len(),
        days: store::days_since(&mut *conn, project.id, &since_day).await?,
        since_day,
        now: store::counts_now(conn, project.id).await?,
    })
}

/// The `n` months up to and including `today`'s, oldest first, as `YYYY-MM`.
pub fn last_months(today: NaiveDate, n: u32) -> Vec<String> {
    let mut out = Vec::new();
    let (mut year, mut month) = (today.year(), today.month());
    for _ in 0..n.max(1) {
        out.push(format!("{year:04}-{month:02}"));
        if month == 1 {
            (year, month) = (year - 1, 12);
        } else {
            month -= 1;
        }
    }
    out.reverse();
    out
}

/// How many stamps (RFC 3339, UTC) fall in `month` (`YYYY-MM`).
fn in_month(stamps: &[String], month: &str) -> i64 {
    let n = stamps
        .iter()
        .filter_map(|s| parse_stamp(s))
        .filter(|t| t.format("%Y-%m").to_string() == month)
        .count();
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The median of whole days (the mean of the middle two for an even count).
pub fn median(values: &[i64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2] as f64),
        _ => Some((v[n / 2 - 1] + v[n / 2]) as f64 / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_run_back_across_the_year() {
        let today = NaiveDate::from_ymd_opt(2026, 2, 14).unwrap();
        assert_eq!(
            last_months(today, 4),
            ["2025-11", "2025-12", "2026-01", "2026-02"]
        );
    }

    #[test]
    fn median_of_odd_even_and_no_values() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[54, 18, 41]), Some(41.0));
        assert_eq!(median(&[10, 1, 4, 3]), Some(3.5));
    }

    #[test]
    fn stamps_count_in_their_utc_month() {
        let stamps = [
            "2026-01-31T23:59:59.000Z".to_string(),
            "2026-02-01T00:00:00.000Z".to_string(),
            "nonsense".to_string(),
        ];
        assert_eq!(in_month(&stamps, "2026-01"), 1);
        assert_eq!(in_month(&stamps, "2026-02"), 1);
    }
}
