//! One flag environment's stored strategies and variants: reading and replacing them.

use crate::db::Conn;

/// One environment's stored targeting of one flag.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TargetingRow {
    pub enabled: bool,
    pub strategies: String,
    pub variants: String,
    pub version: i64,
    pub updated_at: String,
}

pub async fn targeting_of(
    conn: &mut Conn,
    flag_id: i64,
    environment_id: i64,
) -> Result<Option<TargetingRow>, sqlx::Error> {
    crate::db::query_as(
        "select enabled, strategies, variants, version, updated_at from flag_environments \
         where flag_id = ? and environment_id = ?",
    )
    .bind(flag_id)
    .bind(environment_id)
    .fetch_optional(conn)
    .await
}

/// Which column of `flag_environments` a replacement writes.
#[derive(Debug, Clone, Copy)]
pub enum Column {
    Strategies,
    Variants,
}

/// Stores one JSON column and bumps the row's version.
pub async fn set_targeting(
    conn: &mut Conn,
    flag_id: i64,
    environment_id: i64,
    column: Column,
    json: &str,
    now: &str,
) -> Result<(), sqlx::Error> {
    let sql = match column {
        Column::Strategies => {
            "update flag_environments set strategies = ?, version = version + 1, updated_at = ? \
             where flag_id = ? and environment_id = ?"
        }
        Column::Variants => {
            "update flag_environments set variants = ?, version = version + 1, updated_at = ? \
             where flag_id = ? and environment_id = ?"
        }
    };
    crate::db::query(sql)
        .bind(json)
        .bind(now)
        .bind(flag_id)
        .bind(environment_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Bumps the flag's version, so that a change request proposed on the old one sees the
/// conflict.
pub async fn touch_flag(conn: &mut Conn, flag_id: i64, now: &str) -> Result<(), sqlx::Error> {
    crate::db::query("update flags set version = version + 1, updated_at = ? where id = ?")
        .bind(now)
        .bind(flag_id)
        .execute(conn)
        .await?;
    Ok(())
}
