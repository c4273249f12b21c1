//! What an import writes: segments by name, flag environments' state, revived flags.

use crate::db::Conn;

/// Creates the segment, or replaces the constraints of the one of that name; its id.
pub async fn upsert_segment(
    conn: &mut Conn,
    project_id: i64,
    name: &str,
    constraints: &str,
    now: &str,
) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "insert into segments (project_id, name, constraints, created_at, updated_at) \
         values (?, ?, ?, ?, ?) on conflict (project_id, name) do update set \
         constraints = excluded.constraints, updated_at = excluded.updated_at, \
         version = segments.version + 1 returning id",
    )
    .bind(project_id)
    .bind(name)
    .bind(constraints)
    .bind(now)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// An imported flag's state in one environment: (enabled, strategies JSON, variants JSON).
pub async fn import_environment(
    conn: &mut Conn,
    flag_id: i64,
    environment_id: i64,
    (enabled, strategies, variants): (bool, &str, &str),
    now: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update flag_environments set enabled = ?, strategies = ?, variants = ?, \
         version = version + 1, updated_at = ? where flag_id = ? and environment_id = ?",
    )
    .bind(enabled)
    .bind(strategies)
    .bind(variants)
    .bind(now)
    .bind(flag_id)
    .bind(environment_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// An imported flag is live again (an import of an archived key revives it).
pub async fn revive_imported(
    conn: &mut Conn,
    flag_id: i64,
    impression_data: bool,
    now: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update flags set impression_data = ?, archived_at = null, updated_at = ? where id = ?",
    )
    .bind(impression_data)
    .bind(now)
    .bind(flag_id)
    .execute(conn)
    .await?;
    Ok(())
}
