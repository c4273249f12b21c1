//! SQL for projects, environments and memberships.

use super::{Environment, Member, Project};
use crate::authz::Role;
use crate::clock::stamp;
use crate::db::Conn;
use chrono::{DateTime, Utc};
use serde::Serialize;

const PROJECT_COLUMNS: &str = "id, key, name, description, key_pattern, key_example, created_at";
const ENV_COLUMNS: &str =
    "id, project_id, key, name, sort_order, protected, required_approvals, production";

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSummary {
    pub key: String,
    pub name: String,
    pub description: String,
    pub flags: i64,
    pub archived: i64,
    pub members: i64,
}

pub async fn project_by_key(conn: &mut Conn, key: &str) -> Result<Option<Project>, sqlx::Error> {
    crate::db::query_as(&format!(
        "select {PROJECT_COLUMNS} from projects where key = ?"
    ))
    .bind(key)
    .fetch_optional(conn)
    .await
}

/// Every project with counts for the list page; callers keep those the caller's
/// `authz::Reach` holds.
pub async fn summaries(conn: &mut Conn) -> Result<Vec<ProjectSummary>, sqlx::Error> {
    crate::db::query_as(
        "select p.key, p.name, p.description, \
           (select count(*) from flags f where f.project_id = p.id and f.archived_at is null) as flags, \
           (select count(*) from flags f where f.project_id = p.id and f.archived_at is not null) as archived, \
           (select count(*) from memberships m where m.project_id = p.id) as members \
         from projects p order by p.key",
    )
    .fetch_all(conn)
    .await
}

/// Per project: its active flags and how many of them the last lifecycle assessment found
/// stale.
pub async fn health_counts(conn: &mut Conn) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    crate::db::query_as(
        "select p.key, count(*), count(case when a.stale then 1 end) \
         from flags f join projects p on p.id = f.project_id \
         left join flag_assessments a on a.flag_id = f.id \
         where f.archived_at is null \
         group by p.key",
    )
    .fetch_all(conn)
    .await
}

/// Creates the project with the default environments. Returns None when the key is taken.
pub async fn insert_project(
    conn: &mut Conn,
    key: &str,
    name: &str,
    description: &str,
    now: DateTime<Utc>,
) -> Result<Option<Project>, sqlx::Error> {
    let inserted: Option<Project> = crate::db::query_as(&format!(
        "insert into projects (key, name, description, created_at) values (?, ?, ?, ?) \
         on conflict (key) do nothing returning {PROJECT_COLUMNS}"
    ))
    .bind(key)
    .bind(name)
    .bind(description)
    .bind(stamp(now))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(project) = inserted else {
        return Ok(None);
    };
    for (i, (env_key, env_name, protected)) in super::DEFAULT_ENVIRONMENTS.iter().enumerate() {
        let env = insert_environment(
            &mut *conn, project.id, env_key, env_name, i as i64, *protected, now,
        )
        .await?;
        if let Some(env) = env.filter(|e| e.key == super::PRODUCTION) {
            crate::db::query("update environments set production = true where id = ?")
                .bind(env.id)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(Some(project))
}

pub async fn environments(
    conn: &mut Conn,
    project_id: i64,
) -> Result<Vec<Environment>, sqlx::Error> {
    crate::db::query_as(&format!(
        "select {ENV_COLUMNS} from environments where project_id = ? order by sort_order, key"
    ))
    .bind(project_id)
    .fetch_all(conn)
    .await
}

pub async fn environment(
    conn: &mut Conn,
    project_id: i64,
    key: &str,
) -> Result<Option<Environment>, sqlx::Error> {
    crate::db::query_as(&format!(
        "select {ENV_COLUMNS} from environments where project_id = ? and key = ?"
    ))
    .bind(project_id)
    .bind(key)
    .fetch_optional(conn)
    .await
}

/// Adds an environment and gives every existing flag a (disabled) state in it.
pub async fn insert_environment(
    conn: &mut Conn,
    project_id: i64,
    key: &str,
    name: &str,
    sort_order: i64,
    protected: bool,
    now: DateTime<Utc>,
) -> Result<Option<Environment>, sqlx::Error> {
    let env: Option<Environment> = crate::db::query_as(&format!(
        "insert into environments (project_id, key, name, sort_order, protected, required_approvals, created_at) \
         values (?, ?, ?, ?, ?, 1, ?) on conflict (project_id, key) do nothing returning {ENV_COLUMNS}"
    ))
    .bind(project_id)
    .bind(key)
    .bind(name)
    .bind(sort_order)
    .bind(protected)
    .bind(stamp(now))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(env) = &env {
        crate::db::query(
            "insert into flag_environments (flag_id, environment_id, enabled, updated_at) \
             select id, ?, false, ? from flags where project_id = ?",
        )
        .bind(env.id)
        .bind(stamp(now))
        .bind(project_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(env)
}

pub async fn next_sort_order(conn: &mut Conn, project_id: i64) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "select coalesce(max(sort_order), -1) + 1 from environments where project_id = ?",
    )
    .bind(project_id)
    .fetch_one(conn)
    .await
}

pub async fn set_protection(
    conn: &mut Conn,
    env_id: i64,
    protected: bool,
    required_approvals: i64,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update environments set protected = ?, required_approvals = ?, \
         protection_version = protection_version + 1 where id = ?",
    )
    .bind(protected)
    .bind(required_approvals)
    .bind(env_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The version of an environment's protection settings, bumped on every change to them.
pub async fn protection_version(conn: &mut Conn, env_id: i64) -> Result<Option<i64>, sqlx::Error> {
    crate::db::query_scalar("select protection_version from environments where id = ?")
        .bind(env_id)
        .fetch_optional(conn)
        .await
}

pub async fn update_settings(
    conn: &mut Conn,
    project_id: i64,
    name: &str,
    description: &str,
    key_pattern: Option<&str>,
    key_example: Option<&str>,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update projects set name = ?, description = ?, key_pattern = ?, key_example = ? where id = ?",
    )
    .bind(name)
    .bind(description)
    .bind(key_pattern)
    .bind(key_example)
    .bind(project_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn role_of(
    conn: &mut Conn,
    project_id: i64,
    user_id: i64,
) -> Result<Option<Role>, sqlx::Error> {
    crate::db::query_scalar("select role from memberships where project_id = ? and user_id = ?")
        .bind(project_id)
        .bind(user_id)
        .fetch_optional(conn)
        .await
}

pub async fn members(conn: &mut Conn, project_id: i64) -> Result<Vec<Member>, sqlx::Error> {
    crate::db::query_as(
        "select u.id as user_id, u.email, u.name, m.role, u.active from memberships m \
         join users u on u.id = m.user_id where m.project_id = ? \
         order by case m.role when 'owner' then 0 when 'approver' then 1 when 'editor' then 2 else 3 end, u.name",
    )
    .bind(project_id)
    .fetch_all(conn)
    .await
}

/// Adds the member or changes their role; returns the previous role.
pub async fn set_member(
    conn: &mut Conn,
    project_id: i64,
    user_id: i64,
    role: Role,
    now: DateTime<Utc>,
) -> Result<Option<Role>, sqlx::Error> {
    let before = role_of(&mut *conn, project_id, user_id).await?;
    crate::db::query(
        "insert into memberships (project_id, user_id, role, created_at) values (?, ?, ?, ?) \
         on conflict (project_id, user_id) do update set role = excluded.role",
    )
    .bind(project_id)
    .bind(user_id)
    .bind(role)
    .bind(stamp(now))
    .execute(conn)
    .await?;
    Ok(before)
}

pub async fn remove_member(
    conn: &mut Conn,
    project_id: i64,
    user_id: i64,
) -> Result<Option<Role>, sqlx::Error> {
    let before = role_of(&mut *conn, project_id, user_id).await?;
    crate::db::query("delete from memberships where project_id = ? and user_id = ?")
        .bind(project_id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(before)
}

/// Keys of the projects a user belongs to, for filtering what they may read.
pub async fn project_keys_of(conn: &mut Conn, user_id: i64) -> Result<Vec<String>, sqlx::Error> {
    crate::db::query_scalar(
        "select p.key from projects p join memberships m on m.project_id = p.id where m.user_id = ? order by p.key",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await
}

/// Per-project overrides of flag types' expected lifetimes (None = permanent).
pub async fn lifetimes(
    conn: &mut Conn,
    project_id: i64,
) -> Result<Vec<(String, Option<i64>)>, sqlx::Error> {
    crate::db::query_as("select flag_type, days from project_lifetimes where project_id = ?")
        .bind(project_id)
        .fetch_all(conn)
        .await
}

pub async fn set_lifetime(
    conn: &mut Conn,
    project_id: i64,
    flag_type: &str,
    days: Option<i64>,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "insert into project_lifetimes (project_id, flag_type, days) values (?, ?, ?) \
         on conflict (project_id, flag_type) do update set days = excluded.days",
    )
    .bind(project_id)
    .bind(flag_type)
    .bind(days)
    .execute(conn)
    .await?;
    Ok(())
}

/// Drops a per-project lifetime override, so the flag type's default applies again.
pub async fn clear_lifetime(
    conn: &mut Conn,
    project_id: i64,
    flag_type: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query("delete from project_lifetimes where project_id = ? and flag_type = ?")
        .bind(project_id)
        .bind(flag_type)
        .execute(conn)
        .await?;
    Ok(())
}

/// Every project.
pub async fn all_projects(conn: &mut Conn) -> Result<Vec<Project>, sqlx::Error> {
    crate::db::query_as(&format!(
        "select {PROJECT_COLUMNS} from projects order by key"
    ))
    .fetch_all(conn)
    .await
}

/// The projects a user can see (all of them for admins), for pages spanning projects.
pub async fn visible_projects(
    conn: &mut Conn,
    user_id: i64,
    is_admin: bool,
) -> Result<Vec<Project>, sqlx::Error> {
    crate::db::query_as(&format!(
        "select {PROJECT_COLUMNS} from projects p where ? or exists \
         (select 1 from memberships m where m.project_id = p.id and m.user_id = ?) order by p.key"
    ))
    .bind(is_admin)
    .bind(user_id)
    .fetch_all(conn)
    .await
}
