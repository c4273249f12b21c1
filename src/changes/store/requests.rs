//! A change request's row: reading, listing and creating one, its state moves and wording.

use crate::changes::State;
use crate::db::Conn;

/// A change request with the keys of its project and environment.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequestRow {
    pub id: i64,
    pub project_id: i64,
    pub project_key: String,
    /// The request's environment is the production one.
    pub environment_production: bool,
    pub environment_id: i64,
    pub environment_key: String,
    pub required_approvals: i64,
    pub author_id: i64,
    pub author_label: String,
    pub state: String,
    pub title: String,
    pub reason: String,
    pub scheduled_at: Option<String>,
    pub outcome: Option<String>,
    pub applied_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub items: i64,
    pub approvals: i64,
}

impl RequestRow {
    pub fn state(&self) -> State {
        State::parse(&self.state).unwrap_or(State::Failed)
    }
}

const REQUEST_SELECT: &str = "select r.id, r.project_id, p.key as project_key, r.environment_id, \
     e.key as environment_key, e.required_approvals, e.production as environment_production, r.author_id, r.author_label, r.state, \
     r.title, r.reason, r.scheduled_at, r.outcome, r.applied_by, r.created_at, r.updated_at, \
     (select count(*) from change_request_items i where i.change_request_id = r.id) as items, \
     (select count(*) from change_request_approvals a where a.change_request_id = r.id) as approvals \
     from change_requests r join projects p on p.id = r.project_id \
     join environments e on e.id = r.environment_id";

pub async fn request_by_id(conn: &mut Conn, id: i64) -> Result<Option<RequestRow>, sqlx::Error> {
    crate::db::query_as(&format!("{REQUEST_SELECT} where r.id = ?"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// What a list shows: requests in the given projects, newest first.
pub struct ListFilter<'a> {
    pub project_ids: &'a [i64],
    pub state: Option<State>,
    pub author_id: Option<i64>,
    /// Only finished requests (applied, rejected, cancelled).
    pub closed: bool,
    /// Only those written by the person of this label (their e-mail).
    pub author_label: Option<&'a str>,
    /// Only those last changed (for a finished one: closed) at or after this stamp.
    pub since: Option<&'a str>,
}

const CLOSED_STATES: &str = "('applied', 'rejected', 'cancelled')";

pub async fn requests(conn: &mut Conn, f: &ListFilter<'_>) -> Result<Vec<RequestRow>, sqlx::Error> {
    let mut q = crate::db::QueryBuilder::new(format!("{REQUEST_SELECT} where r.project_id in ("));
    let mut ids = q.separated(", ");
    for id in f.project_ids {
        ids.push_bind(*id);
    }
    if f.project_ids.is_empty() {
        ids.push("null");
    }
    q.push(")");
    if let Some(s) = f.state {
        q.push(" and r.state = ").push_bind(s.as_str());
    }
    if let Some(a) = f.author_id {
        q.push(" and r.author_id = ").push_bind(a);
    }
    if f.closed {
        q.push(format!(" and r.state in {CLOSED_STATES}"));
    }
    if let Some(a) = f.author_label {
        q.push(" and r.author_label = ").push_bind(a);
    }
    if let Some(t) = f.since {
        q.push(" and r.updated_at >= ").push_bind(t);
    }
    q.push(" order by r.id desc limit 500");
    q.build_query_as().fetch_all(conn).await
}

/// Who wrote the finished requests of these projects (the Closed tab's author choice).
pub async fn closed_request_authors(
    conn: &mut Conn,
    project_ids: &[i64],
) -> Result<Vec<String>, sqlx::Error> {
    let mut q = crate::db::QueryBuilder::new(format!(
        "select distinct author_label from change_requests where state in {CLOSED_STATES} \
         and project_id in ("
    ));
    let mut ids = q.separated(", ");
    for id in project_ids {
        ids.push_bind(*id);
    }
    if project_ids.is_empty() {
        ids.push("null");
    }
    q.push(") order by author_label");
    q.build_query_scalar().fetch_all(conn).await
}

pub async fn draft_of(
    conn: &mut Conn,
    environment_id: i64,
    author_id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    crate::db::query_scalar(
        "select id from change_requests where environment_id = ? and author_id = ? \
         and state = 'draft'",
    )
    .bind(environment_id)
    .bind(author_id)
    .fetch_optional(conn)
    .await
}

pub async fn insert_request(
    conn: &mut Conn,
    project_id: i64,
    environment_id: i64,
    author: (i64, &str),
    now: &str,
) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "insert into change_requests (project_id, environment_id, author_id, author_label, state, \
         created_at, updated_at) values (?, ?, ?, ?, 'draft', ?, ?) returning id",
    )
    .bind(project_id)
    .bind(environment_id)
    .bind(author.0)
    .bind(author.1)
    .bind(now)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// A state change, only from the state it was read in: under concurrency exactly one caller
/// moves the request (the others find `false`).
pub struct Move<'a> {
    pub from: State,
    pub to: State,
    pub outcome: Option<&'a str>,
    pub scheduled_at: Option<&'a str>,
    pub applied_by: Option<&'a str>,
}

impl Move<'_> {
    pub fn new(from: State, to: State) -> Self {
        Move {
            from,
            to,
            outcome: None,
            scheduled_at: None,
            applied_by: None,
        }
    }
}

pub async fn move_state(
    conn: &mut Conn,
    id: i64,
    m: &Move<'_>,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let done = crate::db::query(
        "update change_requests set state = ?, updated_at = ?, outcome = coalesce(?, outcome), \
         scheduled_at = coalesce(?, scheduled_at), applied_by = coalesce(?, applied_by) \
         where id = ? and state = ?",
    )
    .bind(m.to.as_str())
    .bind(now)
    .bind(m.outcome)
    .bind(m.scheduled_at)
    .bind(m.applied_by)
    .bind(id)
    .bind(m.from.as_str())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_wording(
    conn: &mut Conn,
    id: i64,
    title: &str,
    reason: &str,
    now: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update change_requests set title = ?, reason = ?, updated_at = ? where id = ?",
    )
    .bind(title)
    .bind(reason)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn touch(conn: &mut Conn, id: i64, now: &str) -> Result<(), sqlx::Error> {
    crate::db::query("update change_requests set updated_at = ? where id = ?")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
