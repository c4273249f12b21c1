//! SQL of the search: one MATCH over `search_index` (SQLite FTS5, migration 0096), limited to
//! the caller's projects, best first (bm25, with the key weighing most), joined back to the
//! projects, flags and change requests for what a hit shows. On PostgreSQL the same question
//! is a UNION ALL over the three tables' `tsvector` columns (GIN-indexed) ranked by `ts_rank`.

use super::{Hit, Kind};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

#[derive(sqlx::FromRow)]
struct Row {
    kind: String,
    ref_id: i64,
    project: String,
    key: String,
    name: String,
    archived: bool,
    state: Option<String>,
}

/// Up to `limit` hits for the full-text `expression` (see `search::match_expression`) in the
/// projects `project_ids`.
pub async fn find(
    conn: &mut SqliteConnection,
    expression: &str,
    project_ids: &[i64],
    limit: i64,
) -> Result<Vec<Hit>, sqlx::Error> {
    if project_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "select s.kind, s.ref_id, p.key as project, s.key, s.name, \
         coalesce(f.archived_at is not null, false) as archived, c.state \
         from search_index s \
         join projects p on p.id = s.project_id \
         left join flags f on s.kind = 'flag' and f.id = s.ref_id \
         left join change_requests c on s.kind = 'change' and c.id = s.ref_id \
         where search_index match ",
    );
    q.push_bind(expression.to_string());
    q.push(" and s.project_id in (");
    let mut sep = q.separated(", ");
    for id in project_ids {
        sep.push_bind(*id);
    }
    // Weights follow the columns: kind, ref_id, project_id (unindexed), key, name, body, tags.
    q.push(") order by archived, bm25(search_index, 0, 0, 0, 10.0, 5.0, 1.0, 3.0) limit ")
        .push_bind(limit);
    let rows: Vec<Row> = q.build_query_as().fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let kind = Kind::parse(&r.kind)?;
            let note = match (kind, r.archived, r.state) {
                (Kind::Flag, true, _) => "archived".to_string(),
                (Kind::ChangeRequest, _, Some(state)) => state,
                _ => String::new(),
            };
            Some(Hit {
                kind,
                id: r.ref_id,
                project: r.project,
                key: r.key,
                name: r.name,
                note,
            })
        })
        .collect())
}
