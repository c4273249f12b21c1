//! Segments: reading, creating, updating and deleting them, and the strategies that use them.

use crate::db::Conn;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SegmentRecord {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// JSON constraint list.
    pub constraints: String,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

const SEGMENT_COLUMNS: &str = "id, name, description, constraints, version, created_at, updated_at";

pub async fn segments_of(
    conn: &mut Conn,
    project_id: i64,
) -> Result<Vec<SegmentRecord>, sqlx::Error> {
    crate::db::query_as(&format!(
        "select {SEGMENT_COLUMNS} from segments where project_id = ? order by name, id"
    ))
    .bind(project_id)
    .fetch_all(conn)
    .await
}

/// The project's segments as (id, name), for pickers.
pub async fn segment_names_of(
    conn: &mut Conn,
    project_id: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    crate::db::query_as("select id, name from segments where project_id = ? order by name, id")
        .bind(project_id)
        .fetch_all(conn)
        .await
}

pub async fn segment_by_id(
    conn: &mut Conn,
    project_id: i64,
    id: i64,
) -> Result<Option<SegmentRecord>, sqlx::Error> {
    crate::db::query_as(&format!(
        "select {SEGMENT_COLUMNS} from segments where project_id = ? and id = ?"
    ))
    .bind(project_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn segment_by_name(
    conn: &mut Conn,
    project_id: i64,
    name: &str,
) -> Result<Option<SegmentRecord>, sqlx::Error> {
    crate::db::query_as(&format!(
        "select {SEGMENT_COLUMNS} from segments where project_id = ? and name = ?"
    ))
    .bind(project_id)
    .bind(name)
    .fetch_optional(conn)
    .await
}

pub async fn insert_segment(
    conn: &mut Conn,
    project_id: i64,
    (name, description, constraints): (&str, &str, &str),
    now: &str,
) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "insert into segments (project_id, name, description, constraints, created_at, updated_at) \
         values (?, ?, ?, ?, ?, ?) returning id",
    )
    .bind(project_id)
    .bind(name)
    .bind(description)
    .bind(constraints)
    .bind(now)
    .bind(now)
    .fetch_one(conn)
    .await
}

pub async fn update_segment(
    conn: &mut Conn,
    id: i64,
    (name, description, constraints): (&str, &str, &str),
    now: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update segments set name = ?, description = ?, constraints = ?, version = version + 1, \
         updated_at = ? where id = ?",
    )
    .bind(name)
    .bind(description)
    .bind(constraints)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete_segment(conn: &mut Conn, id: i64) -> Result<(), sqlx::Error> {
    crate::db::query("delete from segments where id = ?")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The stored strategies of the flag environments in a project that may reference a segment,
/// archived flags included: (flag key, environment key, protected, strategies JSON).
///
/// Rows whose every `"segments"` key holds an empty list are left out in SQL, so a page that
/// counts segment uses parses the few rows that have some rather than every flag's targeting.
/// The test only ever keeps too much, never too little: once the empty lists are taken out, a
/// `"segments"` left in any shape (a list of ids, spaces around it, a string value) keeps the
/// row. `replace` and `like` are plain SQL. Only the rows of the partial index
/// `flag_environments_using_segments` (migration 0093, with this very condition) are read, then
/// joined to their flag (`cross join` fixes that order).
pub async fn strategies_using_segments(
    conn: &mut Conn,
    project_id: i64,
) -> Result<Vec<(String, String, bool, String)>, sqlx::Error> {
    crate::db::query_as(STRATEGIES_USING_SEGMENTS)
        .bind(project_id)
        .fetch_all(conn)
        .await
}

const STRATEGIES_USING_SEGMENTS: &str = "select f.key, e.key, e.protected, fe.strategies \
     from flag_environments fe cross join flags f cross join environments e \
     where f.id = fe.flag_id and e.id = fe.environment_id and f.project_id = ? \
     and replace(fe.strategies, '\"segments\":[]', '') like '%\"segments\"%' \
     order by f.key, e.sort_order, e.key";

#[cfg(test)]
mod tests {
    /// The segments list reads the rows that may name a segment through their partial index, not
    /// every flag's targeting: the query's condition must stay the index's.
    #[tokio::test]
    async fn segment_uses_are_read_through_their_partial_index() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let db = crate::db::connect(&url).await.unwrap();
        let explain = format!("explain query plan {}", super::STRATEGIES_USING_SEGMENTS);
        let rows: Vec<(i64, i64, i64, String)> = crate::db::query_as(&explain)
            .bind(1)
            .fetch_all(&db)
            .await
            .unwrap();
        let plan: Vec<String> = rows.into_iter().map(|r| r.3).collect();
        let through_index = "USING INDEX flag_environments_using_segments";
        assert!(plan.iter().any(|s| s.contains(through_index)), "{plan:?}");
    }
}
