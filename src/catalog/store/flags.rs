//! Reads of flags: by key, their environment states, dependents, and what a user owns.

use super::{EnvState, FlagRow, FLAG_SELECT};
use crate::db::{Conn, QueryBuilder};

/// Every flag key of the project, archived ones included (they can be revived).
pub async fn flag_keys(conn: &mut Conn, project_id: i64) -> Result<Vec<String>, sqlx::Error> {
    crate::db::query_scalar("select key from flags where project_id = ?")
        .bind(project_id)
        .fetch_all(conn)
        .await
}

pub async fn flag_by_key(
    conn: &mut Conn,
    project_id: i64,
    key: &str,
) -> Result<Option<FlagRow>, sqlx::Error> {
    crate::db::query_as(&format!(
        "{FLAG_SELECT} where f.project_id = ? and f.key = ?"
    ))
    .bind(project_id)
    .bind(key)
    .fetch_optional(conn)
    .await
}

pub async fn env_states(conn: &mut Conn, flag_ids: &[i64]) -> Result<Vec<EnvState>, sqlx::Error> {
    if flag_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q: QueryBuilder = QueryBuilder::new(
        "select fe.flag_id, e.key as env_key, e.name as env_name, e.id as environment_id, e.protected, \
         fe.enabled, fe.version, fe.updated_at, fe.strategies, fe.killed, fe.variants \
         from flag_environments fe join environments e on e.id = fe.environment_id where fe.flag_id in (",
    );
    let mut sep = q.separated(", ");
    for id in flag_ids {
        sep.push_bind(*id);
    }
    q.push(") order by fe.flag_id, e.sort_order, e.key");
    q.build_query_as().fetch_all(conn).await
}

/// The keys of the project's active (not archived) flags that depend on `parent_key`.
pub async fn active_dependents(
    conn: &mut Conn,
    project_id: i64,
    parent_key: &str,
) -> Result<Vec<String>, sqlx::Error> {
    crate::db::query_scalar(
        "select f.key from flag_dependencies d join flags f on f.id = d.flag_id \
         where f.project_id = ? and d.parent_key = ? and f.archived_at is null order by f.key",
    )
    .bind(project_id)
    .bind(parent_key)
    .fetch_all(conn)
    .await
}

/// A live flag someone answers for.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OwnedFlag {
    pub id: i64,
    pub project_key: String,
    pub key: String,
    pub name: String,
    pub flag_type: String,
    pub owner: Option<String>,
    pub created_at: String,
}

/// Unarchived flags owned by the user or by one of their teams, oldest first.
pub async fn flags_owned_by(conn: &mut Conn, user_id: i64) -> Result<Vec<OwnedFlag>, sqlx::Error> {
    crate::db::query_as(
        "select f.id, p.key as project_key, f.key, f.name, f.flag_type, \
           coalesce(ou.email, 'team:' || ot.key) as owner, f.created_at \
         from flags f join projects p on p.id = f.project_id \
         left join users ou on ou.id = f.owner_user_id \
         left join teams ot on ot.id = f.owner_team_id \
         where f.archived_at is null and (f.owner_user_id = ? \
           or f.owner_team_id in (select team_id from team_members where user_id = ?)) \
         order by f.created_at, p.key, f.key",
    )
    .bind(user_id)
    .bind(user_id)
    .fetch_all(conn)
    .await
}

/// Whether the flag is on in the environment.
pub async fn enabled_in(
    conn: &mut Conn,
    flag_id: i64,
    environment_id: i64,
) -> Result<bool, sqlx::Error> {
    crate::db::query_scalar(
        "select enabled from flag_environments where flag_id = ? and environment_id = ?",
    )
    .bind(flag_id)
    .bind(environment_id)
    .fetch_one(conn)
    .await
}
