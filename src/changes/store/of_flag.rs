//! The requests under way that change a given flag, as the flag's pages and its retirement
//! checklist show them.

use crate::db::Conn;

/// A request not yet finished that changes a given flag.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OpenRequest {
    pub id: i64,
    pub state: String,
    pub title: String,
    pub environment_key: String,
    pub author_label: String,
}

/// The project's unfinished requests (neither applied, rejected nor cancelled) with an item on
/// `flag_key`, oldest first.
pub async fn open_requests_of_flag(
    conn: &mut Conn,
    project_id: i64,
    flag_key: &str,
) -> Result<Vec<OpenRequest>, sqlx::Error> {
    crate::db::query_as(
        "select r.id, r.state, r.title, e.key as environment_key, r.author_label \
         from change_requests r join environments e on e.id = r.environment_id \
         where r.project_id = ? and r.state not in ('applied', 'rejected', 'cancelled') \
         and exists (select 1 from change_request_items i \
                     where i.change_request_id = r.id and i.flag_key = ?) \
         order by r.id",
    )
    .bind(project_id)
    .bind(flag_key)
    .fetch_all(conn)
    .await
}

/// A flag with a request still under way that changes it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingRow {
    pub flag_id: i64,
    pub request_id: i64,
    pub state: String,
    pub environment_key: String,
}

/// For each of `flag_ids` (all of one project), the requests that change it and are submitted
/// and not finished (in review, approved, scheduled, failed), plus `viewer_id`'s own drafts:
/// somebody else's draft is nobody's business until it is submitted. Oldest request first.
pub async fn pending_of_flags(
    conn: &mut Conn,
    project_id: i64,
    flag_ids: &[i64],
    viewer_id: i64,
) -> Result<Vec<PendingRow>, sqlx::Error> {
    if flag_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = crate::db::QueryBuilder::new(
        "select distinct f.id as flag_id, r.id as request_id, r.state, e.key as environment_key \
         from change_requests r join environments e on e.id = r.environment_id \
         join change_request_items i on i.change_request_id = r.id \
         join flags f on f.project_id = r.project_id and f.key = i.flag_key \
         where r.project_id = ",
    );
    q.push_bind(project_id)
        .push(" and (r.state in ('in-review', 'approved', 'scheduled', 'failed') or (r.state = 'draft' and r.author_id = ")
        .push_bind(viewer_id)
        .push(")) and f.id in (");
    let mut ids = q.separated(", ");
    for id in flag_ids {
        ids.push_bind(*id);
    }
    q.push(") order by r.id");
    q.build_query_as().fetch_all(conn).await
}
