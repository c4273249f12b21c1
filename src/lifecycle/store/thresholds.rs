//! The project's staleness thresholds: reading them (defaults until set) and setting them.

use crate::db::Conn;
use crate::lifecycle::stale::Thresholds;

#[derive(sqlx::FromRow)]
struct ThresholdRow {
    grace_days: i64,
    unused_days: i64,
    fully_rolled_out_days: i64,
    off_days: i64,
    retirement_quiet_days: i64,
}

/// The project's thresholds (the defaults until an owner sets them).
pub async fn thresholds(conn: &mut Conn, project_id: i64) -> Result<Thresholds, sqlx::Error> {
    let row: Option<ThresholdRow> = crate::db::query_as(
        "select grace_days, unused_days, fully_rolled_out_days, off_days, retirement_quiet_days \
         from project_lifecycle where project_id = ?",
    )
    .bind(project_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map_or_else(Thresholds::default, |r| Thresholds {
        grace_days: r.grace_days,
        unused_days: r.unused_days,
        fully_rolled_out_days: r.fully_rolled_out_days,
        off_days: r.off_days,
        retirement_quiet_days: r.retirement_quiet_days,
    }))
}

pub async fn set_thresholds(
    conn: &mut Conn,
    project_id: i64,
    t: &Thresholds,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "insert into project_lifecycle (project_id, grace_days, unused_days, \
         fully_rolled_out_days, off_days, retirement_quiet_days) values (?, ?, ?, ?, ?, ?) \
         on conflict (project_id) do update set grace_days = excluded.grace_days, \
         unused_days = excluded.unused_days, \
         fully_rolled_out_days = excluded.fully_rolled_out_days, off_days = excluded.off_days, \
         retirement_quiet_days = excluded.retirement_quiet_days",
    )
    .bind(project_id)
    .bind(t.grace_days)
    .bind(t.unused_days)
    .bind(t.fully_rolled_out_days)
    .bind(t.off_days)
    .bind(t.retirement_quiet_days)
    .execute(conn)
    .await?;
    Ok(())
}
