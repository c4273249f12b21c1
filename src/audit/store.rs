//! SQL of the audit log: append inside the caller's transaction, list with filters, verify.

use super::chain::{self, Break, Pins, Sealed, Verifier};
use super::Actor;
use crate::clock::stamp;
use crate::db::{Conn, QueryBuilder};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

pub struct NewEntry<'a> {
    pub action: super::Action,
    pub project: Option<&'a str>,
    pub flag: Option<&'a str>,
    pub environment: Option<&'a str>,
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub reason: Option<&'a str>,
}

impl<'a> NewEntry<'a> {
    pub fn new(action: super::Action, target: impl Into<String>) -> Self {
        NewEntry {
            action,
            project: None,
            flag: None,
            environment: None,
            target: target.into(),
            before: None,
            after: None,
            reason: None,
        }
    }
    pub fn project(mut self, key: &'a str) -> Self {
        self.project = Some(key);
        self
    }
    pub fn flag(mut self, key: &'a str) -> Self {
        self.flag = Some(key);
        self
    }
    pub fn environment(mut self, key: &'a str) -> Self {
        self.environment = Some(key);
        self
    }
    pub fn before(mut self, v: impl Serialize) -> Self {
        self.before = serde_json::to_value(v).ok();
        self
    }
    pub fn after(mut self, v: impl Serialize) -> Self {
        self.after = serde_json::to_value(v).ok();
        self
    }
    pub fn reason(mut self, r: Option<&'a str>) -> Self {
        self.reason = r.filter(|r| !r.trim().is_empty());
        self
    }
}

/// Appends one entry, chained to the last one. Must run inside the write transaction of the change
/// it records, so that the change and its entry commit together or not at all.
pub async fn append(
    conn: &mut Conn,
    actor: &Actor,
    entry: NewEntry<'_>,
    now: DateTime<Utc>,
) -> Result<i64, sqlx::Error> {
    let last: Option<(i64, String)> =
        crate::db::query_as("select seq, hash from audit_log order by seq desc limit 1")
            .fetch_optional(&mut *conn)
            .await?;
    let (seq, prev_hash) = match last {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, chain::GENESIS.to_string()),
    };
    let sealed = Sealed {
        seq,
        at: stamp(now),
        actor_kind: actor.kind.as_str().to_string(),
        actor_id: actor.user_id,
        actor_label: actor.label.clone(),
        action: entry.action.to_string(),
        project_key: entry.project.map(str::to_string),
        flag_key: entry.flag.map(str::to_string),
        environment_key: entry.environment.map(str::to_string),
        target: entry.target,
        before_json: entry.before.map(|v| v.to_string()),
        after_json: entry.after.map(|v| v.to_string()),
        reason: entry.reason.map(str::to_string),
        request_id: actor.request_id.clone(),
    };
    let hash = chain::hash(&prev_hash, &sealed);
    crate::db::query(
        "insert into audit_log (seq, at, actor_kind, actor_id, actor_label, action, project_key, \
         flag_key, environment_key, target, before_json, after_json, reason, request_id, prev_hash, hash) \
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(sealed.seq)
    .bind(&sealed.at)
    .bind(&sealed.actor_kind)
    .bind(sealed.actor_id)
    .bind(&sealed.actor_label)
    .bind(&sealed.action)
    .bind(&sealed.project_key)
    .bind(&sealed.flag_key)
    .bind(&sealed.environment_key)
    .bind(&sealed.target)
    .bind(&sealed.before_json)
    .bind(&sealed.after_json)
    .bind(&sealed.reason)
    .bind(&sealed.request_id)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    Ok(seq)
}

#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub seq: i64,
    pub at: String,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    pub actor_label: String,
    pub action: String,
    pub project_key: Option<String>,
    pub flag_key: Option<String>,
    pub environment_key: Option<String>,
    pub target: String,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub hash: String,
}

/// Filters of the audit page and API; all optional, all exact matches except the date range.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct Filter {
    pub project: Option<String>,
    pub flag: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    /// Leaves out the change requests' own bookkeeping (`change-request.*`): a flag's history
    /// shows what changed, each change naming the request it came through.
    #[serde(skip)]
    pub hide_change_requests: bool,
}

/// Which projects the reader may see; `None` means every entry (admins).
pub type Visibility = Option<Vec<String>>;

pub async fn list(
    conn: &mut Conn,
    filter: &Filter,
    visible: &Visibility,
    limit: i64,
    before_seq: Option<i64>,
) -> Result<Vec<Entry>, sqlx::Error> {
    let mut q: QueryBuilder = QueryBuilder::new(
        "select seq, at, actor_kind, actor_id, actor_label, action, project_key, flag_key, \
         environment_key, target, before_json, after_json, reason, request_id, hash from audit_log where 1 = 1",
    );
    let nonempty = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
    if let Some(p) = nonempty(&filter.project) {
        q.push(" and project_key = ").push_bind(p);
    }
    if let Some(f) = nonempty(&filter.flag) {
        q.push(" and flag_key = ").push_bind(f);
    }
    if let Some(a) = nonempty(&filter.actor) {
        q.push(" and actor_label = ").push_bind(a);
    }
    if let Some(a) = nonempty(&filter.action) {
        q.push(" and action = ").push_bind(a);
    }
    if let Some(s) = nonempty(&filter.since) {
        q.push(" and at >= ").push_bind(s);
    }
    if let Some(u) = nonempty(&filter.until) {
        // A bare date includes the whole day.
        let u = if u.len() == 10 {
            format!("{u}T23:59:59.999Z")
        } else {
            u
        };
        q.push(" and at <= ").push_bind(u);
    }
    if let Some(projects) = visible {
        q.push(" and project_key in (");
        let mut sep = q.separated(", ");
        sep.push_bind("");
        for p in projects {
            sep.push_bind(p.clone());
        }
        q.push(")");
    }
    if filter.hide_change_requests {
        q.push(" and action not like 'change-request.%'");
    }
    // Newest first by time (entries are not always written in time order), then by sequence;
    // a page starts after the entry `before_seq`.
    if let Some(b) = before_seq {
        q.push(" and (at < (select at from audit_log where seq = ")
            .push_bind(b)
            .push(") or (at = (select at from audit_log where seq = ")
            .push_bind(b)
            .push(") and seq < ")
            .push_bind(b)
            .push("))");
    }
    q.push(" order by at desc, seq desc limit ")
        .push_bind(limit);
    q.build_query_as::<Entry>().fetch_all(&mut *conn).await
}

/// The `change-request.applied` entries recorded at any of `ats`: a request's changes are
/// recorded in its transaction, at the same time as the entry that applies them.
pub async fn applied_at(conn: &mut Conn, ats: &[&str]) -> Result<Vec<Entry>, sqlx::Error> {
    if ats.is_empty() {
        return Ok(Vec::new());
    }
    let mut q: QueryBuilder = QueryBuilder::new(
        "select seq, at, actor_kind, actor_id, actor_label, action, project_key, flag_key, \
         environment_key, target, before_json, after_json, reason, request_id, hash from audit_log \
         where action = ",
    );
    q.push_bind(super::Action::ChangeRequestApplied.as_str())
        .push(" and at in (");
    let mut sep = q.separated(", ");
    for at in ats {
        sep.push_bind(at.to_string());
    }
    q.push(")");
    q.build_query_as::<Entry>().fetch_all(&mut *conn).await
}

/// Distinct actions recorded so far, for the filter's choices.
pub async fn actions(conn: &mut Conn) -> Result<Vec<String>, sqlx::Error> {
    crate::db::query_scalar("select distinct action from audit_log order by action")
        .fetch_all(&mut *conn)
        .await
}

pub struct Verified {
    pub entries: i64,
    pub head: String,
}

/// The newest entry's sequence number and hash; `0` and the genesis hash for an empty log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

impl std::fmt::Display for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

pub async fn head(conn: &mut Conn) -> Result<Head, sqlx::Error> {
    let last: Option<(i64, String)> =
        crate::db::query_as("select seq, hash from audit_log order by seq desc limit 1")
            .fetch_optional(&mut *conn)
            .await?;
    let (seq, hash) = last.unwrap_or((0, chain::GENESIS.to_string()));
    Ok(Head { seq, hash })
}

/// Walks the whole chain in order, in pages, and returns the first break; each entry is also
/// checked against `pins` (see [`Pins::missing`] for what is left unseen afterwards).
pub async fn verify(
    conn: &mut Conn,
    pins: &mut Pins,
) -> Result<Result<Verified, Break>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        sealed: Sealed,
        prev_hash: String,
        hash: String,
    }
    let mut verifier = Verifier::default();
    let mut after = 0i64;
    loop {
        let rows: Vec<Row> = crate::db::query_as(
            "select seq, at, actor_kind, actor_id, actor_label, action, project_key, flag_key, \
             environment_key, target, before_json, after_json, reason, request_id, prev_hash, hash \
             from audit_log where seq > ? order by seq limit 1000",
        )
        .bind(after)
        .fetch_all(&mut *conn)
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let checked = verifier
                .check(&r.sealed, &r.prev_hash, &r.hash)
                .and_then(|()| pins.check(r.sealed.seq, &r.hash));
            if let Err(b) = checked {
                return Ok(Err(b));
            }
            after = r.sealed.seq;
        }
    }
    Ok(Ok(Verified {
        entries: verifier.checked(),
        head: verifier.head().to_string(),
    }))
}

/// An audited change as the feed reads it: where it happened.
#[derive(sqlx::FromRow)]
pub struct ChangeRow {
    pub project_id: i64,
    pub project_key: String,
    pub action: String,
    pub environment_key: Option<String>,
    pub flag_key: Option<String>,
}

/// The distinct changes to projects after entry `since`.
pub async fn changes_since(conn: &mut Conn, since: i64) -> Result<Vec<ChangeRow>, sqlx::Error> {
    crate::db::query_as(
        "select distinct p.id as project_id, p.key as project_key, a.action, a.environment_key, \
         a.flag_key from audit_log a join projects p on p.key = a.project_key where a.seq > ?",
    )
    .bind(since)
    .fetch_all(conn)
    .await
}
