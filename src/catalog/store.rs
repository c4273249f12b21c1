//! SQL of the catalog.

use super::filter::{CatalogFilter, PAGE_SIZE};
use crate::clock::stamp;
use crate::db::{Backend, Conn, QueryBuilder};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlagRow {
    #[serde(skip)]
    pub id: i64,
    #[serde(skip)]
    pub project_id: i64,
    pub key: String,
    pub name: String,
    pub description: String,
    #[serde(rename = "type")]
    pub flag_type: String,
    pub value_type: String,
    #[serde(skip)]
    pub owner_user_id: Option<i64>,
    #[serde(skip)]
    pub owner_team_id: Option<i64>,
    /// `email` of the owning user or `team:key`.
    pub owner: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub archived_at: Option<String>,
    pub version: i64,
    /// When it was first switched on anywhere (its stage is `initial` until then).
    #[serde(skip)]
    pub first_enabled_at: Option<String>,
    /// An owner marked it completed.
    #[serde(skip)]
    pub completed: bool,
}

impl FlagRow {
    /// Its lifecycle stage, from its marks and its environments' (on, protected).
    pub fn stage(&self, environments: &[(bool, bool)]) -> crate::lifecycle::Stage {
        crate::lifecycle::stage::current(crate::lifecycle::stage::Now {
            archived: self.archived_at.is_some(),
            completed: self.completed,
            ever_on: self.first_enabled_at.is_some(),
            environments,
        })
    }
}

const FLAG_SELECT: &str = "select f.id, f.project_id, f.key, f.name, f.description, f.flag_type, \
     f.value_type, f.owner_user_id, f.owner_team_id, \
     coalesce(ou.email, 'team:' || ot.key) as owner, \
     f.created_by, f.created_at, f.updated_at, f.archived_at, f.version, f.first_enabled_at, \
     exists (select 1 from flag_completions c where c.flag_id = f.id) as completed \
     from flags f left join users ou on ou.id = f.owner_user_id \
     left join teams ot on ot.id = f.owner_team_id";

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvState {
    #[serde(skip)]
    pub flag_id: i64,
    #[serde(rename = "environment")]
    pub env_key: String,
    #[serde(skip)]
    pub env_name: String,
    #[serde(skip)]
    pub environment_id: i64,
    pub protected: bool,
    pub enabled: bool,
    pub version: i64,
    pub updated_at: String,
    #[serde(skip)]
    pub strategies: String,
    /// Switched off by the emergency kill (and not switched since).
    pub killed: bool,
    #[serde(skip)]
    pub variants: String,
}

impl EnvState {
    /// (on, protected) as the lifecycle stage reads it: a killed environment still counts as on,
    /// since a kill is an emergency stop, not a retreat from production.
    pub fn stage_pair(&self) -> (bool, bool) {
        (self.enabled || self.killed, self.protected)
    }
}

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

pub async fn tags_of(
    conn: &mut Conn,
    flag_ids: &[i64],
) -> Result<HashMap<i64, Vec<String>>, sqlx::Error> {
    if flag_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut q: QueryBuilder =
        QueryBuilder::new("select flag_id, tag from flag_tags where flag_id in (");
    let mut sep = q.separated(", ");
    for id in flag_ids {
        sep.push_bind(*id);
    }
    q.push(") order by tag");
    let rows: Vec<(i64, String)> = q.build_query_as().fetch_all(conn).await?;
    let mut map: HashMap<i64, Vec<String>> = HashMap::new();
    for (id, tag) in rows {
        map.entry(id).or_default().push(tag);
    }
    Ok(map)
}

pub async fn links_of(conn: &mut Conn, flag_id: i64) -> Result<Vec<(String, String)>, sqlx::Error> {
    crate::db::query_as("select kind, url from flag_links where flag_id = ? order by id")
        .bind(flag_id)
        .fetch_all(conn)
        .await
}

/// Adds the catalog filter's conditions to a query over `flags f`.
fn push_conditions(q: &mut QueryBuilder, backend: Backend, project_ids: &[i64], f: &CatalogFilter) {
    q.push(" where f.project_id in (");
    let mut sep = q.separated(", ");
    sep.push_bind(-1i64);
    for id in project_ids {
        sep.push_bind(*id);
    }
    q.push(")");
    match f.archived() {
        "archived" => {
            q.push(" and f.archived_at is not null");
        }
        "all" => {}
        _ => {
            q.push(" and f.archived_at is null");
        }
    }
    if let Some(text) = f.text() {
        // LIKE's wildcards in the search are data, not patterns.
        let escaped = text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        let like = backend.like();
        q.push(format!(" and (f.key {like} "))
            .push_bind(pattern.clone())
            .push(format!(" escape '\\' or f.name {like} "))
            .push_bind(pattern.clone())
            .push(format!(" escape '\\' or f.description {like} "))
            .push_bind(pattern)
            .push(" escape '\\')");
    }
    if let Some(owner) = f.owner() {
        q.push(" and ou.email = ").push_bind(owner.to_lowercase());
    }
    if let Some(team) = f.team() {
        q.push(" and ot.key = ").push_bind(team.to_string());
    }
    if let Some(t) = f.flag_type() {
        q.push(" and f.flag_type = ").push_bind(t.to_string());
    }
    if let Some(tag) = f.tag() {
        q.push(" and exists (select 1 from flag_tags t where t.flag_id = f.id and t.tag = ")
            .push_bind(tag.to_string())
            .push(")");
    }
    if let Some(on) = f.state() {
        q.push(" and exists (select 1 from flag_environments fe join environments e on e.id = fe.environment_id where fe.flag_id = f.id and fe.enabled = ")
            .push_bind(on);
        if let Some(env) = f.env() {
            q.push(" and e.key = ").push_bind(env.to_string());
        }
        q.push(")");
    }
    // The stages as `lifecycle::stage::current` decides them, in SQL.
    const ON_PROTECTED: &str = "exists (select 1 from flag_environments fe join environments e \
         on e.id = fe.environment_id where fe.flag_id = f.id and (fe.enabled or fe.killed) and e.protected)";
    const ON_ANYWHERE: &str =
        "exists (select 1 from flag_environments fe where fe.flag_id = f.id and fe.enabled)";
    const COMPLETED: &str = "exists (select 1 from flag_completions c where c.flag_id = f.id)";
    match f.lifecycle() {
        Some("archived") => {
            q.push(" and f.archived_at is not null");
        }
        Some("completed") => {
            q.push(format!(" and f.archived_at is null and {COMPLETED}"));
        }
        Some("live") => {
            q.push(format!(
                " and f.archived_at is null and not {COMPLETED} and {ON_PROTECTED}"
            ));
        }
        Some("pre-live") => {
            q.push(format!(
                " and f.archived_at is null and not {COMPLETED} and not {ON_PROTECTED} \
                 and (f.first_enabled_at is not null or {ON_ANYWHERE})"
            ));
        }
        Some("initial") => {
            q.push(format!(
                " and f.archived_at is null and not {COMPLETED} and f.first_enabled_at is null \
                 and not {ON_ANYWHERE}"
            ));
        }
        _ => {}
    }
    // Staleness as the lifecycle assessment last stored it.
    match f.stale() {
        Some(true) => {
            q.push(
                " and exists (select 1 from flag_assessments a where a.flag_id = f.id and a.stale)",
            );
        }
        Some(false) => {
            q.push(" and not exists (select 1 from flag_assessments a where a.flag_id = f.id and a.stale)");
        }
        None => {}
    }
    if let Some(code) = f.reason() {
        q.push(
            " and exists (select 1 from flag_stale_codes c where c.flag_id = f.id and c.code = ",
        )
        .push_bind(code.to_string())
        .push(")");
    }
}

pub struct Page {
    pub flags: Vec<FlagRow>,
    pub total: i64,
}

pub async fn search(
    conn: &mut Conn,
    project_ids: &[i64],
    f: &CatalogFilter,
    page_size: Option<i64>,
) -> Result<Page, sqlx::Error> {
    let mut count: QueryBuilder = QueryBuilder::new(
        "select count(*) from flags f left join users ou on ou.id = f.owner_user_id \
         left join teams ot on ot.id = f.owner_team_id",
    );
    push_conditions(&mut count, conn.backend(), project_ids, f);
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;

    let size = page_size.unwrap_or(PAGE_SIZE);
    let mut q: QueryBuilder = QueryBuilder::new(FLAG_SELECT);
    push_conditions(&mut q, conn.backend(), project_ids, f);
    let dir = if f.descending() { "desc" } else { "asc" };
    q.push(format!(" order by {} {dir}, f.key asc", f.sort().column()));
    q.push(" limit ")
        .push_bind(size)
        .push(" offset ")
        .push_bind((f.page() - 1) * size);
    let flags = q.build_query_as().fetch_all(&mut *conn).await?;
    Ok(Page { flags, total })
}

/// Distinct tags in a project, for the filter's choices.
pub async fn project_tags(conn: &mut Conn, project_id: i64) -> Result<Vec<String>, sqlx::Error> {
    crate::db::query_scalar(
        "select distinct t.tag from flag_tags t join flags f on f.id = t.flag_id where f.project_id = ? order by t.tag",
    )
    .bind(project_id)
    .fetch_all(conn)
    .await
}

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

pub async fn replace_tags(
    conn: &mut Conn,
    flag_id: i64,
    tags: &[String],
) -> Result<(), sqlx::Error> {
    crate::db::query("delete from flag_tags where flag_id = ?")
        .bind(flag_id)
        .execute(&mut *conn)
        .await?;
    for tag in tags {
        crate::db::query("insert into flag_tags (flag_id, tag) values (?, ?)")
            .bind(flag_id)
            .bind(tag)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn replace_links(
    conn: &mut Conn,
    flag_id: i64,
    links: &[(String, String)],
) -> Result<(), sqlx::Error> {
    crate::db::query("delete from flag_links where flag_id = ?")
        .bind(flag_id)
        .execute(&mut *conn)
        .await?;
    for (kind, url) in links {
        crate::db::query("insert into flag_links (flag_id, kind, url) values (?, ?, ?)")
            .bind(flag_id)
            .bind(kind)
            .bind(url)
            .execute(&mut *conn)
            .await?;
    }
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

/// Marks the environment's switch-off as an emergency kill (see [`EnvState::stage_pair`]); the
/// next switch clears it.
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
