//! SQL for release plans and their guards' breach state.

use crate::db::Conn;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlanRow {
    pub id: i64,
    pub project_id: i64,
    pub project_key: String,
    pub environment_id: i64,
    pub environment_key: String,
    pub flag_key: String,
    pub template_key: String,
    pub template_name: String,
    pub milestones: String,
    pub guards: String,
    pub baselines: String,
    pub on_breach: String,
    pub auto_advance: bool,
    pub state: String,
    pub milestone: i64,
    pub milestone_started_at: String,
    pub started_at: String,
    pub started_by: String,
    pub ended_at: Option<String>,
    pub version: i64,
}

const PLAN: &str = "select r.id, r.project_id, p.key as project_key, r.environment_id, \
     e.key as environment_key, r.flag_key, r.template_key, r.template_name, r.milestones, \
     r.guards, r.baselines, r.on_breach, r.auto_advance, r.state, r.milestone, \
     r.milestone_started_at, r.started_at, r.started_by, r.ended_at, r.version \
     from release_plans r join projects p on p.id = r.project_id \
     join environments e on e.id = r.environment_id";

pub struct NewPlan<'a> {
    pub project_id: i64,
    pub environment_id: i64,
    pub flag_key: &'a str,
    pub template_key: &'a str,
    pub template_name: &'a str,
    pub milestones: &'a str,
    pub guards: &'a str,
    pub baselines: &'a str,
    pub on_breach: &'a str,
    pub auto_advance: bool,
    pub started_by: &'a str,
}

pub async fn insert_plan(conn: &mut Conn, p: &NewPlan<'_>, now: &str) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "insert into release_plans (project_id, environment_id, flag_key, template_key, \
         template_name, milestones, guards, baselines, on_breach, auto_advance, state, milestone, \
         milestone_started_at, started_at, started_by) \
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', 0, ?, ?, ?) returning id",
    )
    .bind(p.project_id)
    .bind(p.environment_id)
    .bind(p.flag_key)
    .bind(p.template_key)
    .bind(p.template_name)
    .bind(p.milestones)
    .bind(p.guards)
    .bind(p.baselines)
    .bind(p.on_breach)
    .bind(p.auto_advance)
    .bind(now)
    .bind(now)
    .bind(p.started_by)
    .fetch_one(conn)
    .await
}

pub async fn plan_by_id(conn: &mut Conn, id: i64) -> Result<Option<PlanRow>, sqlx::Error> {
    crate::db::query_as(&format!("{PLAN} where r.id = ?"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The flag's latest plan in the environment that was not cancelled.
pub async fn latest_plan(
    conn: &mut Conn,
    environment_id: i64,
    flag_key: &str,
) -> Result<Option<PlanRow>, sqlx::Error> {
    crate::db::query_as(&format!(
        "{PLAN} where r.environment_id = ? and r.flag_key = ? and r.state <> 'cancelled' \
         order by r.id desc limit 1"
    ))
    .bind(environment_id)
    .bind(flag_key)
    .fetch_optional(conn)
    .await
}

pub async fn plan_in_progress(
    conn: &mut Conn,
    environment_id: i64,
    flag_key: &str,
) -> Result<Option<PlanRow>, sqlx::Error> {
    crate::db::query_as(&format!(
        "{PLAN} where r.environment_id = ? and r.flag_key = ? \
         and r.state in ('running', 'paused', 'rolled-back')"
    ))
    .bind(environment_id)
    .bind(flag_key)
    .fetch_optional(conn)
    .await
}

/// The plans the guard job watches: running or paused.
pub async fn watched_plans(conn: &mut Conn) -> Result<Vec<PlanRow>, sqlx::Error> {
    crate::db::query_as(&format!(
        "{PLAN} where r.state in ('running', 'paused') order by r.id"
    ))
    .fetch_all(conn)
    .await
}

/// The plans of a project in progress, for its pages.
pub async fn plans_of_flag(
    conn: &mut Conn,
    project_id: i64,
    flag_key: &str,
) -> Result<Vec<PlanRow>, sqlx::Error> {
    crate::db::query_as(&format!(
        "{PLAN} where r.project_id = ? and r.flag_key = ? order by r.id desc"
    ))
    .bind(project_id)
    .bind(flag_key)
    .fetch_all(conn)
    .await
}

/// Moves a plan only if nobody moved it since it was read at `version`: the guard of
/// exactly-once when two processes run the job. Returns whether this caller moved it.
pub async fn move_plan(
    conn: &mut Conn,
    id: i64,
    version: i64,
    state: &str,
    milestone: i64,
    milestone_started_at: &str,
    ended_at: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = crate::db::query(
        "update release_plans set state = ?, milestone = ?, milestone_started_at = ?, \
         ended_at = ?, version = version + 1 where id = ? and version = ?",
    )
    .bind(state)
    .bind(milestone)
    .bind(milestone_started_at)
    .bind(ended_at)
    .bind(id)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// When each guard of the plan was first seen over its limit: (guard index, since).
pub async fn guard_states(
    conn: &mut Conn,
    plan_id: i64,
) -> Result<Vec<(i64, Option<String>)>, sqlx::Error> {
    crate::db::query_as(
        "select guard_index, breaching_since from release_guard_states where plan_id = ?",
    )
    .bind(plan_id)
    .fetch_all(conn)
    .await
}

/// Every guard seen over its limit, of every plan: (plan, guard index, since). One read per pass.
pub async fn guards_over(conn: &mut Conn) -> Result<Vec<(i64, i64, String)>, sqlx::Error> {
    crate::db::query_as(
        "select plan_id, guard_index, breaching_since from release_guard_states \
         where breaching_since is not null",
    )
    .fetch_all(conn)
    .await
}

pub async fn set_guard_state(
    conn: &mut Conn,
    plan_id: i64,
    guard_index: i64,
    since: Option<&str>,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "insert into release_guard_states (plan_id, guard_index, breaching_since) values (?, ?, ?) \
         on conflict (plan_id, guard_index) do update set breaching_since = excluded.breaching_since",
    )
    .bind(plan_id)
    .bind(guard_index)
    .bind(since)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn clear_guard_states(conn: &mut Conn, plan_id: i64) -> Result<(), sqlx::Error> {
    crate::db::query("delete from release_guard_states where plan_id = ?")
        .bind(plan_id)
        .execute(conn)
        .await
        .map(|_| ())
}

/// The project an environment belongs to.
pub async fn project_of_environment(
    conn: &mut Conn,
    environment_id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    crate::db::query_scalar("select project_id from environments where id = ?")
        .bind(environment_id)
        .fetch_optional(conn)
        .await
}
