//! Marks on a flag: first switched on, lifetime, completion and snooze.

use crate::db::Conn;

/// Records the first time a flag is switched on anywhere (later switches change nothing).
pub async fn mark_enabled(conn: &mut Conn, flag_id: i64, now: &str) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update flags set first_enabled_at = ? where id = ? and first_enabled_at is null",
    )
    .bind(now)
    .bind(flag_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_flag_lifecycle(
    conn: &mut Conn,
    flag_id: i64,
    lifetime_days: Option<i64>,
    permanent: bool,
) -> Result<(), sqlx::Error> {
    crate::db::query("update flags set lifetime_days = ?, permanent = ? where id = ?")
        .bind(lifetime_days)
        .bind(permanent)
        .bind(flag_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub struct Completion<'a> {
    pub outcome: &'a str,
    pub variant: Option<&'a str>,
    pub note: &'a str,
    pub by: &'a str,
    pub at: &'a str,
}

pub async fn complete(
    conn: &mut Conn,
    flag_id: i64,
    c: &Completion<'_>,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "insert into flag_completions (flag_id, outcome, variant, note, completed_by, \
         completed_at) values (?, ?, ?, ?, ?, ?) on conflict (flag_id) do update set \
         outcome = excluded.outcome, variant = excluded.variant, note = excluded.note, \
         completed_by = excluded.completed_by, completed_at = excluded.completed_at",
    )
    .bind(flag_id)
    .bind(c.outcome)
    .bind(c.variant)
    .bind(c.note)
    .bind(c.by)
    .bind(c.at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes the completion back; false when the flag was not completed.
pub async fn reopen(conn: &mut Conn, flag_id: i64) -> Result<bool, sqlx::Error> {
    let r = crate::db::query("delete from flag_completions where flag_id = ?")
        .bind(flag_id)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() > 0)
}

pub async fn snooze(
    conn: &mut Conn,
    flag_id: i64,
    until: &str,
    reason: &str,
    by: &str,
    at: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "insert into flag_snoozes (flag_id, until, reason, snoozed_by, snoozed_at) \
         values (?, ?, ?, ?, ?) on conflict (flag_id) do update set until = excluded.until, \
         reason = excluded.reason, snoozed_by = excluded.snoozed_by, \
         snoozed_at = excluded.snoozed_at",
    )
    .bind(flag_id)
    .bind(until)
    .bind(reason)
    .bind(by)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn unsnooze(conn: &mut Conn, flag_id: i64) -> Result<bool, sqlx::Error> {
    let r = crate::db::query("delete from flag_snoozes where flag_id = ?")
        .bind(flag_id)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() > 0)
}
