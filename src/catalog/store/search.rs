//! The catalog page: the filter's conditions in SQL, the count and one page of flags.

use super::{FlagRow, FLAG_SELECT};
use crate::catalog::filter::{CatalogFilter, PAGE_SIZE};
use crate::db::{Backend, Conn, QueryBuilder};

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
