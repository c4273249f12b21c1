//! A flag's dependencies on parent flags: reading, replacing, and the flags that depend on one.

use crate::db::Conn;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Dependency {
    pub parent_key: String,
    pub enabled: bool,
    /// JSON list of variant names.
    pub variants: String,
}

pub async fn dependencies_of(
    conn: &mut Conn,
    flag_id: i64,
) -> Result<Vec<Dependency>, sqlx::Error> {
    crate::db::query_as(
        "select parent_key, enabled, variants from flag_dependencies where flag_id = ? \
         order by parent_key",
    )
    .bind(flag_id)
    .fetch_all(conn)
    .await
}

/// Keys of the project's flags that depend on `parent_key`.
pub async fn children_of(
    conn: &mut Conn,
    project_id: i64,
    parent_key: &str,
) -> Result<Vec<String>, sqlx::Error> {
    crate::db::query_scalar(
        "select f.key from flag_dependencies d join flags f on f.id = d.flag_id \
         where f.project_id = ? and d.parent_key = ? order by f.key",
    )
    .bind(project_id)
    .bind(parent_key)
    .fetch_all(conn)
    .await
}

pub async fn replace_dependencies(
    conn: &mut Conn,
    flag_id: i64,
    deps: &[(String, bool, String)],
) -> Result<(), sqlx::Error> {
    crate::db::query("delete from flag_dependencies where flag_id = ?")
        .bind(flag_id)
        .execute(&mut *conn)
        .await?;
    for (parent, enabled, variants) in deps {
        crate::db::query(
            "insert into flag_dependencies (flag_id, parent_key, enabled, variants) values (?, ?, ?, ?) \
             on conflict (flag_id, parent_key) do update set enabled = excluded.enabled, \
             variants = excluded.variants",
        )
        .bind(flag_id)
        .bind(parent)
        .bind(enabled)
        .bind(variants)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
