//! SQL of the lifecycle history: the daily stale counts, and the creation and archive times the
//! project's lifecycle page counts.

use crate::db::Conn;

/// A project's flags now: stale (active and stored as stale), live (active), total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, sqlx::FromRow)]
pub struct Counts {
    pub stale_flags: i64,
    pub live_flags: i64,
    pub total_flags: i64,
}

pub async fn counts_now(conn: &mut Conn, project_id: i64) -> Result<Counts, sqlx::Error> {
    crate::db::query_as(
        "select count(case when f.archived_at is null and a.stale then 1 end) \
         as stale_flags, \
         count(case when f.archived_at is null then 1 end) as live_flags, \
         count(*) as total_flags \
         from flags f left join flag_assessments a on a.flag_id = f.id where f.project_id = ?",
    )
    .bind(project_id)
    .fetch_one(conn)
    .await
}

pub async fn day_recorded(
    conn: &mut Conn,
    project_id: i64,
    day: &str,
) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = crate::db::query_scalar(
        "select project_id from project_stale_counts where project_id = ? and day = ?",
    )
    .bind(project_id)
    .bind(day)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// Records the day's counts unless that day already has them; true when written.
pub async fn record_day(
    conn: &mut Conn,
    project_id: i64,
    day: &str,
    c: Counts,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let r = crate::db::query(
        "insert into project_stale_counts (project_id, day, stale_flags, live_flags, \
         total_flags, recorded_at) values (?, ?, ?, ?, ?, ?) \
         on conflict (project_id, day) do nothing",
    )
    .bind(project_id)
    .bind(day)
    .bind(c.stale_flags)
    .bind(c.live_flags)
    .bind(c.total_flags)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() > 0)
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DayRow {
    pub day: String,
    pub stale_flags: i64,
    pub live_flags: i64,
    pub total_flags: i64,
}

/// The recorded days from `since_day` on, oldest first.
pub async fn days_since(
    conn: &mut Conn,
    project_id: i64,
    since_day: &str,
) -> Result<Vec<DayRow>, sqlx::Error> {
    crate::db::query_as(
        "select day, stale_flags, live_flags, total_flags from project_stale_counts \
         where project_id = ? and day >= ? order by day",
    )
    .bind(project_id)
    .bind(since_day)
    .fetch_all(conn)
    .await
}

/// When each flag of the project created since `since` was created.
/// How many flags were created in each month (`YYYY-MM`) since `since`: counted by SQL, as
/// stamps are stored in UTC with the month first, rather than 10,000 stamps parsed per view.
pub async fn created_by_month(
    conn: &mut Conn,
    project_id: i64,
    since: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    crate::db::query_as(
        "select substr(created_at, 1, 7) as month, count(*) from flags \
         where project_id = ? and created_at >= ? group by substr(created_at, 1, 7)",
    )
    .bind(project_id)
    .bind(since)
    .fetch_all(conn)
    .await
}

/// Every archive of a flag of the project, as audited: (archived at, the flag's creation).
pub async fn archivals(
    conn: &mut Conn,
    project_id: i64,
    project_key: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    crate::db::query_as(
        "select a.at, f.created_at from audit_log a \
         join flags f on f.project_id = ? and f.key = a.flag_key \
         where a.project_key = ? and a.action = 'flag.archived' order by a.seq",
    )
    .bind(project_id)
    .bind(project_key)
    .fetch_all(conn)
    .await
}
