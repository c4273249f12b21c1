//! When the weekly report is kept: a weekday and a time in UTC (Monday 09:00 unless the instance
//! says otherwise, `serve --report-schedule`), and the in-process job that keeps every
//! project's report of the week once that time has passed. The job asks the database which
//! projects still lack the week's report, so a restart (or a second replica) neither skips a
//! week nor keeps one twice; a process that was down at the time catches up when it starts.
//! A project created after the week's time waits for the next week.

use super::{iso_week, kept};
use crate::clock::SharedClock;
use crate::db::Writes;
use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc, Weekday};
use std::collections::HashMap;
use std::time::Instant;

/// How often the job looks at the clock.
pub const TICK: std::time::Duration = std::time::Duration::from_secs(1);
/// A project whose report failed is tried again after this long.
const RETRY: std::time::Duration = std::time::Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    Off,
    Weekly { day: Weekday, at: NaiveTime },
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::Weekly {
            day: Weekday::Mon,
            at: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
        }
    }
}

impl std::str::FromStr for Schedule {
    type Err = String;

    /// `mon 09:00` (any weekday, short or long, any case), or `off`.
    fn from_str(s: &str) -> Result<Schedule, String> {
        let s = s.trim().to_lowercase();
        if s == "off" {
            return Ok(Schedule::Off);
        }
        let bad = || {
            format!("{s:?} is not a schedule: give a weekday and a UTC time, such as \"mon 09:00\", or \"off\"")
        };
        let (day, time) = s.split_once(char::is_whitespace).ok_or_else(bad)?;
        let day: Weekday = day.parse().map_err(|_| bad())?;
        let at = NaiveTime::parse_from_str(time.trim(), "%H:%M").map_err(|_| bad())?;
        Ok(Schedule::Weekly { day, at })
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::Off => f.write_str("off"),
            Schedule::Weekly { day, at } => write!(f, "{day} {} UTC", at.format("%H:%M")),
        }
    }
}

impl Schedule {
    /// The ISO week `now` falls in and the moment of that week when its report is due; None
    /// when reports are off.
    pub fn due(self, now: DateTime<Utc>) -> Option<(String, DateTime<Utc>)> {
        let Schedule::Weekly { day, at } = self else {
            return None;
        };
        let monday =
            now.date_naive() - Duration::days(i64::from(now.weekday().num_days_from_monday()));
        let date = monday + Duration::days(i64::from(day.num_days_from_monday()));
        Some((iso_week(now), date.and_time(at).and_utc()))
    }
}

/// Starts the job; runs until the process ends.
pub fn start(writes: Writes, clock: SharedClock, schedule: Schedule) {
    if schedule == Schedule::Off {
        tracing::info!("weekly cleanup reports are off");
        return;
    }
    tokio::spawn(async move {
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failed: HashMap<(i64, String), Instant> = HashMap::new();
        loop {
            every.tick().await;
            if let Err(e) = run_due(&writes, &clock, schedule, &mut failed).await {
                tracing::warn!(error = %e, "the report job could not look for due reports");
            }
        }
    });
}

/// Keeps the week's report of every project that lacks it, once the week's time has come;
/// returns the ids kept. `failed` holds projects to leave alone for a while after an error.
pub async fn run_due(
    writes: &Writes,
    clock: &SharedClock,
    schedule: Schedule,
    failed: &mut HashMap<(i64, String), Instant>,
) -> anyhow::Result<Vec<i64>> {
    let now = clock.now();
    let Some((week, due)) = schedule.due(now) else {
        return Ok(Vec::new());
    };
    if now < due {
        return Ok(Vec::new());
    }
    let (missing, projects) = {
        let mut conn = writes.db.acquire().await?;
        let missing = super::store::projects_without(&mut conn, &week).await?;
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        (
            missing,
            crate::projects::store::all_projects(&mut conn).await?,
        )
    };
    failed.retain(|_, at| at.elapsed() < RETRY);
    let mut kept_ids = Vec::new();
    // A project created after the week's time gets its first report the week after.
    let due_stamp = crate::clock::stamp(due);
    let owed = projects
        .iter()
        .filter(|p| missing.contains(&p.id) && p.created_at <= due_stamp);
    for project in owed {
        let key = (project.id, week.clone());
        if failed.contains_key(&key) {
            continue;
        }
        match kept::generate(writes, project, &week, now).await {
            Ok(Some(id)) => {
                tracing::info!(project = %project.key, week = %week, report = id, "kept the weekly cleanup report");
                kept_ids.push(id);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(project = %project.key, week = %week, error = %e, "the weekly cleanup report failed");
                failed.insert(key, Instant::now());
            }
        }
    }
    Ok(kept_ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        crate::clock::parse_stamp(s).unwrap()
    }

    #[test]
    fn schedules_parse_and_say_what_they_are() {
        assert_eq!("Mon 09:00".parse::<Schedule>(), Ok(Schedule::default()));
        assert_eq!(Schedule::default().to_string(), "Mon 09:00 UTC");
        let fri: Schedule = "friday 17:30".parse().unwrap();
        assert_eq!(fri.to_string(), "Fri 17:30 UTC");
        assert_eq!("off".parse::<Schedule>(), Ok(Schedule::Off));
        for bad in ["", "mon", "mon 25:00", "someday 09:00", "09:00 mon"] {
            assert!(bad.parse::<Schedule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_due_moment_lies_in_the_iso_week_of_now() {
        let s = Schedule::default();
        // Wednesday 2031-02-05: the week's report was due on Monday 2031-02-03 at 09:00.
        assert_eq!(
            s.due(at("2031-02-05T12:00:00Z")),
            Some(("2031-W06".into(), at("2031-02-03T09:00:00Z")))
        );
        // Monday 08:59 is before it; Sunday belongs to the same ISO week as the Monday before.
        let (_, due) = s.due(at("2031-02-03T08:59:00Z")).unwrap();
        assert!(at("2031-02-03T08:59:00Z") < due);
        assert_eq!(s.due(at("2031-02-09T23:00:00Z")).unwrap().0, "2031-W06");
        // Around New Year the ISO year is the week's, not the calendar's.
        assert_eq!(s.due(at("2030-12-31T10:00:00Z")).unwrap().0, "2031-W01");
        let sunday: Schedule = "sun 23:00".parse().unwrap();
        assert_eq!(
            sunday.due(at("2031-02-05T12:00:00Z")).unwrap().1,
            at("2031-02-09T23:00:00Z")
        );
        assert_eq!(Schedule::Off.due(at("2031-02-05T12:00:00Z")), None);
    }
}
