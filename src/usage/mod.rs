//! How often SDKs evaluate a flag: per environment and day over the last two weeks, the variants
//! they got, and which applications are connected. The feed (`feed/usage.rs`) writes the hourly
//! counts; this module reads them back for the flag page's Usage tab and the admin API.

pub mod store;

pub use store::Application;

use crate::catalog::service::flag_not_found;
use crate::catalog::store as catalog_store;
use crate::clock::{parse_stamp, stamp};
use crate::db::Conn;
use crate::error::AppResult;
use crate::projects::{store as projects_store, Environment, Project};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::Serialize;

/// Days shown, today (UTC) included.
pub const WINDOW_DAYS: i64 = 14;
/// Connected applications listed at most.
const MAX_APPLICATIONS: i64 = 200;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlagUsage {
    pub flag: String,
    /// Start of the first day counted (a timestamp, midnight UTC).
    pub since: String,
    /// Environments in their usual order, reported or not.
    pub environments: Vec<EnvUsage>,
    pub applications: Vec<Application>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvUsage {
    pub key: String,
    pub name: String,
    pub protected: bool,
    /// Totals over the window.
    pub yes: i64,
    pub no: i64,
    /// The last hour with any evaluation, however long ago (a timestamp).
    pub last_seen: Option<String>,
    /// One entry per day of the window, oldest first, zeros included.
    pub days: Vec<DayCount>,
    /// Variant counts over the window, most used first.
    pub variants: Vec<VariantCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub yes: i64,
    pub no: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VariantCount {
    pub name: String,
    pub count: i64,
}

impl FlagUsage {
    /// No SDK has ever reported an evaluation of the flag.
    pub fn never_reported(&self) -> bool {
        self.environments.iter().all(|e| e.last_seen.is_none())
    }
}

impl EnvUsage {
    pub fn total(&self) -> i64 {
        self.yes + self.no
    }
}

/// The first day of the window ending today.
pub fn first_day(now: DateTime<Utc>) -> NaiveDate {
    now.date_naive() - TimeDelta::days(WINDOW_DAYS - 1)
}

pub async fn flag_usage(
    conn: &mut Conn,
    project: &Project,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<FlagUsage> {
    if catalog_store::flag_by_key(&mut *conn, project.id, key)
        .await?
        .is_none()
    {
        return Err(flag_not_found(project, key));
    }
    let first = first_day(now);
    let since = stamp(first.and_time(chrono::NaiveTime::MIN).and_utc());
    let envs = projects_store::environments(&mut *conn, project.id).await?;
    let reported = Reported {
        hours: store::hours_since(&mut *conn, project.id, key, &since).await?,
        last: store::last_hours(&mut *conn, project.id, key).await?,
        variants: store::variants_since(&mut *conn, project.id, key, &since).await?,
    };
    let applications = store::applications(&mut *conn, project.id, MAX_APPLICATIONS).await?;
    Ok(FlagUsage {
        flag: key.to_string(),
        since,
        environments: tally(&envs, reported, first),
        applications,
    })
}

/// What the store returned for one flag.
pub struct Reported {
    pub hours: Vec<store::HourRow>,
    pub last: Vec<(i64, String)>,
    pub variants: Vec<(i64, String, i64)>,
}

/// Sums the hours into the window's days, per environment. Hours outside the window (a clock
/// ahead of ours) are left out, so totals always match the chart.
pub fn tally(envs: &[Environment], r: Reported, first: NaiveDate) -> Vec<EnvUsage> {
    let days: Vec<NaiveDate> = (0..WINDOW_DAYS)
        .map(|i| first + TimeDelta::days(i))
        .collect();
    envs.iter()
        .map(|env| {
            let mut counts: Vec<DayCount> = days
                .iter()
                .map(|d| DayCount {
                    day: d.format("%Y-%m-%d").to_string(),
                    yes: 0,
                    no: 0,
                })
                .collect();
            for h in r.hours.iter().filter(|h| h.environment_id == env.id) {
                let Some(t) = parse_stamp(&h.hour) else {
                    continue;
                };
                let i = (t.date_naive() - first).num_days();
                if let Some(c) = usize::try_from(i).ok().and_then(|i| counts.get_mut(i)) {
                    c.yes += h.yes;
                    c.no += h.no;
                }
            }
            EnvUsage {
                key: env.key.clone(),
                name: env.name.clone(),
                protected: env.protected,
                yes: counts.iter().map(|c| c.yes).sum(),
                no: counts.iter().map(|c| c.no).sum(),
                last_seen: r
                    .last
                    .iter()
                    .find(|(id, _)| *id == env.id)
                    .map(|(_, h)| h.clone()),
                days: counts,
                variants: r
                    .variants
                    .iter()
                    .filter(|(id, _, _)| *id == env.id)
                    .map(|(_, name, count)| VariantCount {
                        name: name.clone(),
                        count: *count,
                    })
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(id: i64, key: &str) -> Environment {
        Environment {
            id,
            project_id: 1,
            key: key.into(),
            name: key.into(),
            sort_order: id,
            protected: false,
            required_approvals: 0,
            production: false,
        }
    }

    fn hour(env: i64, hour: &str, yes: i64, no: i64) -> store::HourRow {
        store::HourRow {
            environment_id: env,
            hour: hour.into(),
            yes,
            no,
        }
    }

    #[test]
    fn hours_are_summed_into_days_per_environment() {
        let first = NaiveDate::from_ymd_opt(2026, 11, 11).unwrap();
        let reported = Reported {
            hours: vec![
                hour(1, "2026-11-11T00:00:00.000Z", 1, 2),
                hour(1, "2026-11-24T10:00:00.000Z", 7, 3),
                hour(1, "2026-11-24T23:00:00.000Z", 1, 0),
                hour(2, "2026-11-20T05:00:00.000Z", 5, 5),
                // Ahead of the window: left out.
                hour(1, "2026-11-25T00:00:00.000Z", 100, 100),
            ],
            last: vec![(1, "2026-11-25T00:00:00.000Z".into())],
            variants: vec![(1, "blue".into(), 4), (2, "red".into(), 1)],
        };
        let out = tally(
            &[env(1, "dev"), env(2, "prod"), env(3, "qa")],
            reported,
            first,
        );
        assert_eq!(out.len(), 3);
        let dev = &out[0];
        assert_eq!((dev.yes, dev.no), (9, 5));
        assert_eq!(dev.days.len(), 14);
        assert_eq!(
            dev.days[0],
            DayCount {
                day: "2026-11-11".into(),
                yes: 1,
                no: 2
            }
        );
        assert_eq!(
            dev.days[13],
            DayCount {
                day: "2026-11-24".into(),
                yes: 8,
                no: 3
            }
        );
        assert_eq!(dev.last_seen.as_deref(), Some("2026-11-25T00:00:00.000Z"));
        assert_eq!(
            dev.variants,
            [VariantCount {
                name: "blue".into(),
                count: 4
            }]
        );
        assert_eq!((out[1].yes, out[1].no), (5, 5));
        assert_eq!(out[1].days[9].yes, 5);
        assert_eq!(out[2].total(), 0);
        assert!(out[2].last_seen.is_none());
    }

    #[test]
    fn the_window_ends_today() {
        let now = parse_stamp("2026-11-24T10:30:00Z").unwrap();
        assert_eq!(
            first_day(now),
            NaiveDate::from_ymd_opt(2026, 11, 11).unwrap()
        );
    }
}
