//! SQL of the cleanup reports: what a report needs beyond the assessment (names, owners,
//! dependencies, the events of the week) and the kept reports.

use crate::db::Conn;

/// A flag with its owner's names.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlagRow {
    pub id: i64,
    pub key: String,
    pub name: String,
    pub flag_type: String,
    pub value_type: String,
    pub created_at: String,
    pub archived: bool,
    pub owner_email: Option<String>,
    pub owner_name: Option<String>,
    pub owner_active: Option<bool>,
    pub team_key: Option<String>,
    pub team_name: Option<String>,
}

pub async fn flags(conn: &mut Conn, project_id: i64) -> Result<Vec<FlagRow>, sqlx::Error> {
    crate::db::query_as(
        "select f.id, f.key, f.name, f.flag_type, f.value_type, f.created_at, \
         f.archived_at is not null as archived, u.email as owner_email, u.name as owner_name, \
         u.active as owner_active, t.key as team_key, t.name as team_name \
         from flags f left join users u on u.id = f.owner_user_id \
         left join teams t on t.id = f.owner_team_id where f.project_id = ?",
    )
    .bind(project_id)
    .fetch_all(conn)
    .await
}

/// (flag id, parent key) for every dependency of the project's flags.
pub async fn parents(conn: &mut Conn, project_id: i64) -> Result<Vec<(i64, String)>, sqlx::Error> {
    crate::db::query_as(
        "select d.flag_id, d.parent_key from flag_dependencies d \
         join flags f on f.id = d.flag_id where f.project_id = ? order by d.parent_key",
    )
    .bind(project_id)
    .fetch_all(conn)
    .await
}

/// (flag key, action) of the project's lifecycle events after `since`.
pub async fn events_since(
    conn: &mut Conn,
    project_key: &str,
    since: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    crate::db::query_as(
        "select flag_key, action from audit_log where project_key = ? and at > ? \
         and flag_key is not null and action in ('flag.created', 'flag.archived', \
         'flag.completed', 'flag.became-stale', 'flag.recovered')",
    )
    .bind(project_key)
    .bind(since)
    .fetch_all(conn)
    .await
}

/// A kept report without its body.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeptRow {
    pub id: i64,
    pub project_id: i64,
    pub project_key: String,
    pub project_name: String,
    pub week: String,
    pub generated_at: String,
    pub flags: i64,
    pub stale: i64,
    pub health_percent: Option<i64>,
}

const KEPT_COLUMNS: &str = "r.id, r.project_id, p.key as project_key, p.name as project_name, \
     r.week, r.generated_at, r.flags, r.stale, r.health_percent";

pub async fn week_kept(conn: &mut Conn, project_id: i64, week: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = crate::db::query_scalar(
        "select count(*) from stale_reports where project_id = ? and week = ?",
    )
    .bind(project_id)
    .bind(week)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// The ids of the projects without a kept report for `week`.
pub async fn projects_without(conn: &mut Conn, week: &str) -> Result<Vec<i64>, sqlx::Error> {
    crate::db::query_scalar(
        "select p.id from projects p where not exists (select 1 from stale_reports r \
         where r.project_id = p.id and r.week = ?) order by p.key",
    )
    .bind(week)
    .fetch_all(conn)
    .await
}

/// The project's newest kept report before `week` (any week when None): its id, time and the
/// keys of its stale flags (a JSON list).
pub async fn latest(
    conn: &mut Conn,
    project_id: i64,
    before_week: Option<&str>,
) -> Result<Option<(i64, String, String)>, sqlx::Error> {
    crate::db::query_as(
        "select id, generated_at, stale_keys from stale_reports where project_id = ? \
         and (? is null or week < ?) order by week desc limit 1",
    )
    .bind(project_id)
    .bind(before_week)
    .bind(before_week)
    .fetch_optional(conn)
    .await
}

pub struct NewKept<'a> {
    pub project_id: i64,
    pub week: &'a str,
    pub generated_at: &'a str,
    pub flags: i64,
    pub stale: i64,
    pub health_percent: Option<i64>,
    pub body: &'a str,
    pub stale_keys: &'a str,
}

/// Keeps the report; None when the project's report of that week is kept already.
pub async fn insert(conn: &mut Conn, r: &NewKept<'_>) -> Result<Option<i64>, sqlx::Error> {
    crate::db::query_scalar(
        "insert into stale_reports (project_id, week, generated_at, flags, stale, \
         health_percent, body, stale_keys) values (?, ?, ?, ?, ?, ?, ?, ?) \
         on conflict (project_id, week) do nothing returning id",
    )
    .bind(r.project_id)
    .bind(r.week)
    .bind(r.generated_at)
    .bind(r.flags)
    .bind(r.stale)
    .bind(r.health_percent)
    .bind(r.body)
    .bind(r.stale_keys)
    .fetch_optional(conn)
    .await
}

/// Kept reports, newest first, of the given projects (every project when None).
pub async fn list(
    conn: &mut Conn,
    projects: Option<&[i64]>,
    limit: i64,
) -> Result<Vec<KeptRow>, sqlx::Error> {
    let mut q = crate::db::QueryBuilder::new(format!(
        "select {KEPT_COLUMNS} from stale_reports r join projects p on p.id = r.project_id"
    ));
    if let Some(ids) = projects {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        q.push(" where r.project_id in (");
        let mut sep = q.separated(", ");
        for id in ids {
            sep.push_bind(*id);
        }
        q.push(")");
    }
    q.push(" order by r.week desc, p.key limit ");
    q.push_bind(limit);
    q.build_query_as().fetch_all(conn).await
}

pub async fn by_id(conn: &mut Conn, id: i64) -> Result<Option<(KeptRow, String)>, sqlx::Error> {
    let row: Option<KeptRow> = crate::db::query_as(&format!(
        "select {KEPT_COLUMNS} from stale_reports r join projects p on p.id = r.project_id \
         where r.id = ?"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let body: String = crate::db::query_scalar("select body from stale_reports where id = ?")
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok(Some((row, body)))
}
