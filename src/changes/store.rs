//! SQL of change requests, their items, approvals and comments, and of emergency kills.

use super::State;
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

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemRow {
    pub id: i64,
    pub kind: String,
    pub flag_key: Option<String>,
    pub segment_id: Option<i64>,
    pub payload: String,
    pub base_version: i64,
    pub before_json: String,
    pub after_json: String,
    pub created_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApprovalRow {
    pub user_id: i64,
    pub user_label: String,
    pub approved_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CommentRow {
    pub id: i64,
    pub author_label: String,
    pub body: String,
    pub created_at: String,
}

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

/// Requests whose scheduled time has come.
pub async fn due(conn: &mut Conn, now: &str) -> Result<Vec<i64>, sqlx::Error> {
    crate::db::query_scalar(
        "select id from change_requests where state = 'scheduled' and scheduled_at <= ? \
         order by scheduled_at, id",
    )
    .bind(now)
    .fetch_all(conn)
    .await
}

/// Claims due request `id` for the transaction: true when it is still scheduled and due, its
/// row then locked until commit. Asked inside a write transaction, which holds the one write
/// lock on either database, so of several replicas that found it due one applies it and the
/// others find it no longer scheduled.
pub async fn claim_scheduled(conn: &mut Conn, id: i64, now: &str) -> Result<bool, sqlx::Error> {
    let lock = match conn.backend() {
        crate::db::Backend::Postgres => " for update",
        crate::db::Backend::Sqlite => "",
    };
    let found: Option<i64> = crate::db::query_scalar(&format!(
        "select id from change_requests where id = ? and state = 'scheduled' and scheduled_at <= ?{lock}"
    ))
    .bind(id)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

const ITEM_COLUMNS: &str =
    "id, kind, flag_key, segment_id, payload, base_version, before_json, after_json, created_at";

pub async fn items_of(conn: &mut Conn, request_id: i64) -> Result<Vec<ItemRow>, sqlx::Error> {
    crate::db::query_as(&format!(
        "select {ITEM_COLUMNS} from change_request_items where change_request_id = ? order by id"
    ))
    .bind(request_id)
    .fetch_all(conn)
    .await
}

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

/// The item of the same kind on the same thing, which a newer proposal replaces.
pub async fn item_like(
    conn: &mut Conn,
    request_id: i64,
    kind: &str,
    flag_key: Option<&str>,
    segment_id: Option<i64>,
) -> Result<Option<i64>, sqlx::Error> {
    crate::db::query_scalar(
        "select id from change_request_items where change_request_id = ? and kind = ? \
         and flag_key is not distinct from ? and segment_id is not distinct from ?",
    )
    .bind(request_id)
    .bind(kind)
    .bind(flag_key)
    .bind(segment_id)
    .fetch_optional(conn)
    .await
}

pub struct NewItem<'a> {
    pub kind: &'a str,
    pub flag_key: Option<&'a str>,
    pub segment_id: Option<i64>,
    pub payload: &'a str,
    pub base_version: i64,
    pub before_json: &'a str,
    pub after_json: &'a str,
}

pub async fn insert_item(
    conn: &mut Conn,
    request_id: i64,
    item: &NewItem<'_>,
    now: &str,
) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "insert into change_request_items (change_request_id, kind, flag_key, segment_id, payload, \
         base_version, before_json, after_json, created_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?) \
         returning id",
    )
    .bind(request_id)
    .bind(item.kind)
    .bind(item.flag_key)
    .bind(item.segment_id)
    .bind(item.payload)
    .bind(item.base_version)
    .bind(item.before_json)
    .bind(item.after_json)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// A newer proposal for the same thing; the base version stays the one first seen, so a change
/// to the live configuration in between is still caught.
pub async fn replace_item(
    conn: &mut Conn,
    item_id: i64,
    payload: &str,
    after_json: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query("update change_request_items set payload = ?, after_json = ? where id = ?")
        .bind(payload)
        .bind(after_json)
        .bind(item_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Re-bases an item on the live configuration (refreshing a failed request).
pub async fn rebase_item(
    conn: &mut Conn,
    item_id: i64,
    base_version: i64,
    before_json: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update change_request_items set base_version = ?, before_json = ? where id = ?",
    )
    .bind(base_version)
    .bind(before_json)
    .bind(item_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete_item(
    conn: &mut Conn,
    request_id: i64,
    item_id: i64,
) -> Result<bool, sqlx::Error> {
    let done =
        crate::db::query("delete from change_request_items where change_request_id = ? and id = ?")
            .bind(request_id)
            .bind(item_id)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn approvals_of(
    conn: &mut Conn,
    request_id: i64,
) -> Result<Vec<ApprovalRow>, sqlx::Error> {
    crate::db::query_as(
        "select user_id, user_label, approved_at from change_request_approvals \
         where change_request_id = ? order by approved_at, user_id",
    )
    .bind(request_id)
    .fetch_all(conn)
    .await
}

/// Records one person's approval; false when they had already approved (the primary key makes
/// a second row impossible).
pub async fn insert_approval(
    conn: &mut Conn,
    request_id: i64,
    user: (i64, &str),
    now: &str,
) -> Result<bool, sqlx::Error> {
    let done = crate::db::query(
        "insert into change_request_approvals (change_request_id, user_id, user_label, approved_at) \
         values (?, ?, ?, ?) on conflict do nothing",
    )
    .bind(request_id)
    .bind(user.0)
    .bind(user.1)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn clear_approvals(conn: &mut Conn, request_id: i64) -> Result<u64, sqlx::Error> {
    Ok(
        crate::db::query("delete from change_request_approvals where change_request_id = ?")
            .bind(request_id)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

pub async fn comments_of(conn: &mut Conn, request_id: i64) -> Result<Vec<CommentRow>, sqlx::Error> {
    crate::db::query_as(
        "select id, author_label, body, created_at from change_request_comments \
         where change_request_id = ? order by id",
    )
    .bind(request_id)
    .fetch_all(conn)
    .await
}

pub async fn insert_comment(
    conn: &mut Conn,
    request_id: i64,
    author: &str,
    body: &str,
    now: &str,
) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "insert into change_request_comments (change_request_id, author_label, body, created_at) \
         values (?, ?, ?, ?) returning id",
    )
    .bind(request_id)
    .bind(author)
    .bind(body)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// The live version of one flag environment (what toggle, strategies and variants change).
pub async fn flag_environment_version(
    conn: &mut Conn,
    project_id: i64,
    flag_key: &str,
    environment_id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    crate::db::query_scalar(
        "select fe.version from flag_environments fe join flags f on f.id = fe.flag_id \
         where f.project_id = ? and f.key = ? and fe.environment_id = ?",
    )
    .bind(project_id)
    .bind(flag_key)
    .bind(environment_id)
    .fetch_optional(conn)
    .await
}

pub async fn flag_version(
    conn: &mut Conn,
    project_id: i64,
    flag_key: &str,
) -> Result<Option<i64>, sqlx::Error> {
    crate::db::query_scalar("select version from flags where project_id = ? and key = ?")
        .bind(project_id)
        .bind(flag_key)
        .fetch_optional(conn)
        .await
}

pub async fn segment_version(
    conn: &mut Conn,
    project_id: i64,
    id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    crate::db::query_scalar("select version from segments where project_id = ? and id = ?")
        .bind(project_id)
        .bind(id)
        .fetch_optional(conn)
        .await
}

// ---------- Emergency kills ----------

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KillRow {
    pub id: i64,
    pub project_id: i64,
    pub environment_key: String,
    pub flag_key: String,
    pub reason: String,
    pub killed_by_id: Option<i64>,
    pub killed_by: String,
    pub killed_at: String,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<String>,
    pub acknowledgement: Option<String>,
}

const KILL_SELECT: &str = "select k.id, k.project_id, e.key as environment_key, k.flag_key, \
     k.reason, k.killed_by_id, k.killed_by, k.killed_at, k.acknowledged_by, k.acknowledged_at, \
     k.acknowledgement from emergency_kills k join environments e on e.id = k.environment_id";

pub struct NewKill<'a> {
    pub project_id: i64,
    pub environment_id: i64,
    pub flag_key: &'a str,
    pub reason: &'a str,
    pub killed_by: (Option<i64>, &'a str),
}

pub async fn insert_kill(conn: &mut Conn, k: &NewKill<'_>, now: &str) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "insert into emergency_kills (project_id, environment_id, flag_key, reason, killed_by_id, \
         killed_by, killed_at) values (?, ?, ?, ?, ?, ?, ?) returning id",
    )
    .bind(k.project_id)
    .bind(k.environment_id)
    .bind(k.flag_key)
    .bind(k.reason)
    .bind(k.killed_by.0)
    .bind(k.killed_by.1)
    .bind(now)
    .fetch_one(conn)
    .await
}

pub async fn kill_by_id(
    conn: &mut Conn,
    project_id: i64,
    id: i64,
) -> Result<Option<KillRow>, sqlx::Error> {
    crate::db::query_as(&format!(
        "{KILL_SELECT} where k.project_id = ? and k.id = ?"
    ))
    .bind(project_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn kills_of(
    conn: &mut Conn,
    project_id: i64,
    open_only: bool,
) -> Result<Vec<KillRow>, sqlx::Error> {
    crate::db::query_as(&format!(
        "{KILL_SELECT} where k.project_id = ? and (not ? or k.acknowledged_at is null) \
         order by k.id desc"
    ))
    .bind(project_id)
    .bind(open_only)
    .fetch_all(conn)
    .await
}

/// The kills of one flag nobody has acknowledged yet, newest first.
pub async fn open_kills_of_flag(
    conn: &mut Conn,
    project_id: i64,
    flag_key: &str,
) -> Result<Vec<KillRow>, sqlx::Error> {
    crate::db::query_as(&format!(
        "{KILL_SELECT} where k.project_id = ? and k.flag_key = ? and k.acknowledged_at is null \
         order by k.id desc"
    ))
    .bind(project_id)
    .bind(flag_key)
    .fetch_all(conn)
    .await
}

/// Acknowledges once: false when somebody already did.
pub async fn acknowledge_kill(
    conn: &mut Conn,
    id: i64,
    by: &str,
    note: &str,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let done = crate::db::query(
        "update emergency_kills set acknowledged_by = ?, acknowledged_at = ?, acknowledgement = ? \
         where id = ? and acknowledged_at is null",
    )
    .bind(by)
    .bind(now)
    .bind(note)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
