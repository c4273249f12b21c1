//! The live versions an item is based on: a request applies only what nobody changed since.

use crate::db::Conn;

/// The live version of one flag environment (what toggle, strategies and variants change).
pub async fn flag_environment_version(
    conn: &mut Conn,
    project_id: i64,
    flag_key: &str,
    environment_id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    crate::db::query_scalar(
        "select fe.version from flag_environments fe join flags f on f.id = fe.flag_id \
         where f.project_id = ? and f.key = ? and fe.environment_id = ?",
    )
    .bind(project_id)
    .bind(flag_key)
    .bind(environment_id)
    .fetch_optional(conn)
    .await
}

pub async fn flag_version(
    conn: &mut Conn,
    project_id: i64,
    flag_key: &str,
) -> Result<Option<i64>, sqlx::Error> {
    crate::db::query_scalar("select version from flags where project_id = ? and key = ?")
        .bind(project_id)
        .bind(flag_key)
        .fetch_optional(conn)
        .await
}

pub async fn segment_version(
    conn: &mut Conn,
    project_id: i64,
    id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    crate::db::query_scalar("select version from segments where project_id = ? and id = ?")
        .bind(project_id)
        .bind(id)
        .fetch_optional(conn)
        .await
}
