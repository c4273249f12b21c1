//! SQL for release templates and the project's release setting; plans and their guards' breach
//! state in `plans`, what happened to them (events, rollback reviews) in `history`.

mod history;
mod plans;

pub use history::*;
pub use plans::*;

use crate::db::Conn;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TemplateRow {
    pub id: i64,
    pub project_id: Option<i64>,
    pub key: String,
    pub name: String,
    pub milestones: String,
    pub version: i64,
    pub updated_at: String,
}

const TEMPLATE: &str =
    "select id, project_id, key, name, milestones, version, updated_at from release_templates";

/// The instance-wide templates, then the project's (when given), each by name.
pub async fn templates(
    conn: &mut Conn,
    project_id: Option<i64>,
) -> Result<Vec<TemplateRow>, sqlx::Error> {
    crate::db::query_as(&format!(
        "{TEMPLATE} where project_id is null or project_id = ? \
         order by project_id is not null, name"
    ))
    .bind(project_id)
    .fetch_all(conn)
    .await
}

/// Only the project's own templates (`None`: only the instance-wide ones).
pub async fn own_templates(
    conn: &mut Conn,
    project_id: Option<i64>,
) -> Result<Vec<TemplateRow>, sqlx::Error> {
    crate::db::query_as(&format!(
        "{TEMPLATE} where coalesce(project_id, 0) = coalesce(?, 0) order by name"
    ))
    .bind(project_id)
    .fetch_all(conn)
    .await
}

/// The template `key` of the project (`None`: instance-wide).
pub async fn template(
    conn: &mut Conn,
    project_id: Option<i64>,
    key: &str,
) -> Result<Option<TemplateRow>, sqlx::Error> {
    crate::db::query_as(&format!(
        "{TEMPLATE} where coalesce(project_id, 0) = coalesce(?, 0) and key = ?"
    ))
    .bind(project_id)
    .bind(key)
    .fetch_optional(conn)
    .await
}

pub async fn insert_template(
    conn: &mut Conn,
    project_id: Option<i64>,
    key: &str,
    name: &str,
    milestones: &str,
    now: &str,
) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "insert into release_templates (project_id, key, name, milestones, created_at, updated_at) \
         values (?, ?, ?, ?, ?, ?) returning id",
    )
    .bind(project_id)
    .bind(key)
    .bind(name)
    .bind(milestones)
    .bind(now)
    .bind(now)
    .fetch_one(conn)
    .await
}

pub async fn update_template(
    conn: &mut Conn,
    id: i64,
    name: &str,
    milestones: &str,
    now: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update release_templates set name = ?, milestones = ?, updated_at = ?, \
         version = version + 1 where id = ?",
    )
    .bind(name)
    .bind(milestones)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn delete_template(conn: &mut Conn, id: i64) -> Result<(), sqlx::Error> {
    crate::db::query("delete from release_templates where id = ?")
        .bind(id)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Whether the project asks switching on in a protected environment to be gradual.
pub async fn require_gradual(conn: &mut Conn, project_id: i64) -> Result<bool, sqlx::Error> {
    let v: Option<bool> = crate::db::query_scalar(
        "select require_gradual from release_settings where project_id = ?",
    )
    .bind(project_id)
    .fetch_optional(conn)
    .await?;
    Ok(v.unwrap_or(false))
}

pub async fn set_require_gradual(
    conn: &mut Conn,
    project_id: i64,
    on: bool,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "insert into release_settings (project_id, require_gradual) values (?, ?) \
         on conflict (project_id) do update set require_gradual = excluded.require_gradual",
    )
    .bind(project_id)
    .bind(on)
    .execute(conn)
    .await
    .map(|_| ())
}
