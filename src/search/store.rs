//! SQL of the search: one MATCH over `search_index` (SQLite FTS5, migration 0096), limited to
//! the caller's projects, best first (bm25, with the key weighing most), joined back to the
//! projects, flags and change requests for what a hit shows. On PostgreSQL (no FTS5) the same
//! question reads the three tables themselves: every word must begin a word of the key, name,
//! description or tags, and hits on the key come first.

use super::{Hit, Kind};
use crate::db::{Backend, Conn, QueryBuilder};

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
    conn: &mut Conn,
    expression: &str,
    project_ids: &[i64],
    limit: i64,
) -> Result<Vec<Hit>, sqlx::Error> {
    if project_ids.is_empty() {
        return Ok(Vec::new());
    }
    if conn.backend() == Backend::Postgres {
        return find_postgres(conn, expression, project_ids, limit).await;
    }
    let mut q: QueryBuilder = QueryBuilder::new(
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
    Ok(hits(rows))
}

/// The same search without an index: the words of the match expression, each the start of a
/// word somewhere in what a hit is found by.
async fn find_postgres(
    conn: &mut Conn,
    expression: &str,
    project_ids: &[i64],
    limit: i64,
) -> Result<Vec<Hit>, sqlx::Error> {
    let words: Vec<String> = expression
        .split_whitespace()
        .map(|w| w.trim_matches(|c| c == '"' || c == '*').to_string())
        .filter(|w| !w.is_empty())
        .collect();
    let mut q = QueryBuilder::new(
        "select kind, ref_id, project, key, name, archived, state from (\
         select 'project' as kind, p.id as ref_id, p.key as project, p.key, p.name, \
           false as archived, cast(null as text) as state, p.id as project_id, \
           p.key || ' ' || p.name || ' ' || p.description as doc from projects p \
         union all select 'flag', f.id, p.key, f.key, f.name, f.archived_at is not null, null, \
           f.project_id, f.key || ' ' || f.name || ' ' || f.description || ' ' || \
           coalesce((select string_agg(t.tag, ' ') from flag_tags t where t.flag_id = f.id), '') \
           from flags f join projects p on p.id = f.project_id \
         union all select 'change', c.id, p.key, '#' || c.id, c.title, false, c.state, \
           c.project_id, '#' || c.id || ' ' || c.title || ' ' || c.reason \
           from change_requests c join projects p on p.id = c.project_id) s \
         where s.project_id in (",
    );
    let mut sep = q.separated(", ");
    for id in project_ids {
        sep.push_bind(*id);
    }
    q.push(")");
    for w in &words {
        q.push(" and s.doc ~* ")
            .push_bind(format!("(^|[^[:alnum:]]){w}"));
    }
    q.push(" order by s.archived, case when true");
    for w in &words {
        q.push(" and s.key ~* ")
            .push_bind(format!("(^|[^[:alnum:]]){w}"));
    }
    q.push(" then 0 else 1 end, s.key limit ").push_bind(limit);
    let rows: Vec<Row> = q.build_query_as().fetch_all(conn).await?;
    Ok(hits(rows))
}

fn hits(rows: Vec<Row>) -> Vec<Hit> {
    rows.into_iter()
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
        .collect()
}
