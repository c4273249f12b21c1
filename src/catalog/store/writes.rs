//! Writes to flags: creation, metadata, switching, archiving and the kill mark.

use crate::clock::stamp;
use crate::db::Conn;
use chrono::{DateTime, Utc};

pub struct NewFlag<'a> {
    pub key: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub flag_type: &'a str,
    pub value_type: &'a str,
    pub owner_user_id: Option<i64>,
    pub owner_team_id: Option<i64>,
    pub created_by: &'a str,
}

/// Inserts the flag, switched off in every environment. None when the key is taken.
pub async fn insert_flag(
    conn: &mut Conn,
    project_id: i64,
    f: &NewFlag<'_>,
    now: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    let now = stamp(now);
    let id: Option<i64> = crate::db::query_scalar(
        "insert into flags (project_id, key, name, description, flag_type, value_type, owner_user_id, \
         owner_team_id, created_by, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         on conflict (project_id, key) do nothing returning id",
    )
    .bind(project_id)
    .bind(f.key)
    .bind(f.name)
    .bind(f.description)
    .bind(f.flag_type)
    .bind(f.value_type)
    .bind(f.owner_user_id)
    .bind(f.owner_team_id)
    .bind(f.created_by)
    .bind(&now)
    .bind(&now)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = id {
        crate::db::query(
            "insert into flag_environments (flag_id, environment_id, enabled, updated_at) \
             select ?, id, false, ? from environments where project_id = ?",
        )
        .bind(id)
        .bind(&now)
        .bind(project_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}

pub struct Metadata<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub flag_type: &'a str,
    pub owner_user_id: Option<i64>,
    pub owner_team_id: Option<i64>,
}

pub async fn update_metadata(
    conn: &mut Conn,
    flag_id: i64,
    m: &Metadata<'_>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update flags set name = ?, description = ?, flag_type = ?, owner_user_id = ?, owner_team_id = ?, \
         updated_at = ?, version = version + 1 where id = ?",
    )
    .bind(m.name)
    .bind(m.description)
    .bind(m.flag_type)
    .bind(m.owner_user_id)
    .bind(m.owner_team_id)
    .bind(stamp(now))
    .bind(flag_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_enabled(
    conn: &mut Conn,
    flag_id: i64,
    environment_id: i64,
    enabled: bool,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let now = stamp(now);
    crate::db::query(
        "update flag_environments set enabled = ?, killed = false, version = version + 1, updated_at = ? \
         where flag_id = ? and environment_id = ?",
    )
    .bind(enabled)
    .bind(&now)
    .bind(flag_id)
    .bind(environment_id)
    .execute(&mut *conn)
    .await?;
    crate::db::query("update flags set updated_at = ? where id = ?")
        .bind(&now)
        .bind(flag_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_archived(
    conn: &mut Conn,
    flag_id: i64,
    archived: bool,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let now = stamp(now);
    crate::db::query(
        "update flags set archived_at = ?, updated_at = ?, version = version + 1 where id = ?",
    )
    .bind(archived.then_some(&now))
    .bind(&now)
    .bind(flag_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks the environment's switch-off as an emergency kill (see
/// [`EnvState::stage_pair`](super::EnvState::stage_pair)); the next switch clears it.
pub async fn mark_killed(
    conn: &mut Conn,
    flag_id: i64,
    environment_id: i64,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update flag_environments set killed = true where flag_id = ? and environment_id = ?",
    )
    .bind(flag_id)
    .bind(environment_id)
    .execute(conn)
    .await?;
    Ok(())
}
