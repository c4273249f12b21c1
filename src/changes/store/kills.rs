//! Emergency kills: recording one and its acknowledgement.

use crate::db::Conn;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KillRow {
    pub id: i64,
    pub project_id: i64,
    pub environment_key: String,
    pub flag_key: String,
    pub reason: String,
    pub killed_by_id: Option<i64>,
    pub killed_by: String,
    pub killed_at: String,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<String>,
    pub acknowledgement: Option<String>,
}

const KILL_SELECT: &str = "select k.id, k.project_id, e.key as environment_key, k.flag_key, \
     k.reason, k.killed_by_id, k.killed_by, k.killed_at, k.acknowledged_by, k.acknowledged_at, \
     k.acknowledgement from emergency_kills k join environments e on e.id = k.environment_id";

pub struct NewKill<'a> {
    pub project_id: i64,
    pub environment_id: i64,
    pub flag_key: &'a str,
    pub reason: &'a str,
    pub killed_by: (Option<i64>, &'a str),
}

pub async fn insert_kill(conn: &mut Conn, k: &NewKill<'_>, now: &str) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "insert into emergency_kills (project_id, environment_id, flag_key, reason, killed_by_id, \
         killed_by, killed_at) values (?, ?, ?, ?, ?, ?, ?) returning id",
    )
    .bind(k.project_id)
    .bind(k.environment_id)
    .bind(k.flag_key)
    .bind(k.reason)
    .bind(k.killed_by.0)
    .bind(k.killed_by.1)
    .bind(now)
    .fetch_one(conn)
    .await
}

pub async fn kill_by_id(
    conn: &mut Conn,
    project_id: i64,
    id: i64,
) -> Result<Option<KillRow>, sqlx::Error> {
    crate::db::query_as(&format!(
        "{KILL_SELECT} where k.project_id = ? and k.id = ?"
    ))
    .bind(project_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn kills_of(
    conn: &mut Conn,
    project_id: i64,
    open_only: bool,
) -> Result<Vec<KillRow>, sqlx::Error> {
    crate::db::query_as(&format!(
        "{KILL_SELECT} where k.project_id = ? and (not ? or k.acknowledged_at is null) \
         order by k.id desc"
    ))
    .bind(project_id)
    .bind(open_only)
    .fetch_all(conn)
    .await
}

/// The kills of one flag nobody has acknowledged yet, newest first.
pub async fn open_kills_of_flag(
    conn: &mut Conn,
    project_id: i64,
    flag_key: &str,
) -> Result<Vec<KillRow>, sqlx::Error> {
    crate::db::query_as(&format!(
        "{KILL_SELECT} where k.project_id = ? and k.flag_key = ? and k.acknowledged_at is null \
         order by k.id desc"
    ))
    .bind(project_id)
    .bind(flag_key)
    .fetch_all(conn)
    .await
}

/// Acknowledges once: false when somebody already did.
pub async fn acknowledge_kill(
    conn: &mut Conn,
    id: i64,
    by: &str,
    note: &str,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let done = crate::db::query(
        "update emergency_kills set acknowledged_by = ?, acknowledged_at = ?, acknowledgement = ? \
         where id = ? and acknowledged_at is null",
    )
    .bind(by)
    .bind(now)
    .bind(note)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
