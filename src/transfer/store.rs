//! SQL of the transfer that no other domain needs.

use crate::db::Conn;

#[derive(sqlx::FromRow)]
pub struct FlagExtras {
    pub value_type: String,
    pub impression_data: bool,
}

pub async fn flag_extras(conn: &mut Conn, flag_id: i64) -> Result<FlagExtras, sqlx::Error> {
    crate::db::query_as("select value_type, impression_data from flags where id = ?")
        .bind(flag_id)
        .fetch_one(conn)
        .await
}

pub async fn set_flag_extras(
    conn: &mut Conn,
    flag_id: i64,
    value_type: &str,
    impression_data: bool,
) -> Result<(), sqlx::Error> {
    crate::db::query("update flags set value_type = ?, impression_data = ? where id = ?")
        .bind(value_type)
        .bind(impression_data)
        .bind(flag_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sets one environment's whole targeting; the version moves only when something changed.
pub async fn set_environment(
    conn: &mut Conn,
    flag_id: i64,
    environment_id: i64,
    enabled: bool,
    strategies: &str,
    variants: &str,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let r = crate::db::query(
        "update flag_environments set enabled = ?, strategies = ?, variants = ?, \
         version = version + 1, updated_at = ? where flag_id = ? and environment_id = ? \
         and (enabled <> ? or strategies <> ? or variants <> ?)",
    )
    .bind(enabled)
    .bind(strategies)
    .bind(variants)
    .bind(now)
    .bind(flag_id)
    .bind(environment_id)
    .bind(enabled)
    .bind(strategies)
    .bind(variants)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() > 0)
}
