//! SQL for what happened to a plan: its events and the reviews of its rollbacks.

use crate::db::Conn;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub at: String,
    pub kind: String,
    pub milestone: i64,
    pub actor: String,
    pub detail: Option<String>,
}

pub async fn insert_event(
    conn: &mut Conn,
    plan_id: i64,
    at: &str,
    kind: &str,
    milestone: i64,
    actor: &str,
    detail: Option<&str>,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "insert into release_plan_events (plan_id, at, kind, milestone, actor, detail) \
         values (?, ?, ?, ?, ?, ?)",
    )
    .bind(plan_id)
    .bind(at)
    .bind(kind)
    .bind(milestone)
    .bind(actor)
    .bind(detail)
    .execute(conn)
    .await
    .map(|_| ())
}

pub async fn events_of(conn: &mut Conn, plan_id: i64) -> Result<Vec<EventRow>, sqlx::Error> {
    crate::db::query_as(
        "select id, at, kind, milestone, actor, detail from release_plan_events \
         where plan_id = ? order by id",
    )
    .bind(plan_id)
    .fetch_all(conn)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReviewRow {
    pub id: i64,
    pub plan_id: i64,
    pub what: String,
    pub evidence: String,
    pub rolled_back_at: String,
    pub completed_by: Option<String>,
    pub completed_at: Option<String>,
    pub note: Option<String>,
}

pub async fn insert_review(
    conn: &mut Conn,
    plan_id: i64,
    project_id: i64,
    what: &str,
    evidence: &str,
    at: &str,
) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "insert into release_rollback_reviews (plan_id, project_id, what, evidence, rolled_back_at) \
         values (?, ?, ?, ?, ?) returning id",
    )
    .bind(plan_id)
    .bind(project_id)
    .bind(what)
    .bind(evidence)
    .bind(at)
    .fetch_one(conn)
    .await
}

pub async fn reviews_of(conn: &mut Conn, plan_id: i64) -> Result<Vec<ReviewRow>, sqlx::Error> {
    crate::db::query_as(
        "select id, plan_id, what, evidence, rolled_back_at, completed_by, completed_at, note \
         from release_rollback_reviews where plan_id = ? order by id",
    )
    .bind(plan_id)
    .fetch_all(conn)
    .await
}

/// Completes an open review; false when it was completed already.
pub async fn complete_review(
    conn: &mut Conn,
    id: i64,
    plan_id: i64,
    by: (i64, &str),
    note: &str,
    at: &str,
) -> Result<bool, sqlx::Error> {
    let done = crate::db::query(
        "update release_rollback_reviews set completed_by_id = ?, completed_by = ?, note = ?, \
         completed_at = ? where id = ? and plan_id = ? and completed_at is null",
    )
    .bind(by.0)
    .bind(by.1)
    .bind(note)
    .bind(at)
    .bind(id)
    .bind(plan_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
