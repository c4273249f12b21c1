//! The SQL of webhooks and their outbox.

use crate::db::Conn;
use serde::Serialize;
use sqlx::FromRow;

#[derive(Clone, FromRow)]
pub struct WebhookRow {
    pub id: i64,
    pub project_id: i64,
    pub url: String,
    pub format: String,
    pub events: String,
    pub created_by: String,
    pub active: bool,
    pub created_at: String,
    /// The signing key; '' for webhooks made before deliveries were signed.
    pub secret: String,
}

// By hand, so the secret never reaches a log line.
impl std::fmt::Debug for WebhookRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRow")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("format", &self.format)
            .field("secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// A webhook as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    pub id: i64,
    pub url: String,
    pub format: String,
    /// The events it is told about; every event when empty.
    pub events: Vec<String>,
    pub created_by: String,
    pub active: bool,
    pub created_at: String,
    /// Whether its deliveries carry a signature (the secret itself is shown only at creation).
    pub signed: bool,
}

impl From<WebhookRow> for WebhookView {
    fn from(w: WebhookRow) -> Self {
        WebhookView {
            id: w.id,
            url: w.url,
            format: w.format,
            events: w
                .events
                .split(',')
                .filter(|e| !e.is_empty())
                .map(str::to_string)
                .collect(),
            created_by: w.created_by,
            active: w.active,
            created_at: w.created_at,
            signed: !w.secret.is_empty(),
        }
    }
}

const WEBHOOK_SELECT: &str =
    "select id, project_id, url, format, events, created_by, active, created_at, secret from webhooks";

pub struct NewWebhook<'a> {
    pub project_id: i64,
    pub url: &'a str,
    pub format: &'a str,
    pub events: &'a str,
    pub created_by: &'a str,
    pub secret: &'a str,
}

pub async fn insert(conn: &mut Conn, w: &NewWebhook<'_>, now: &str) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "insert into webhooks (project_id, url, format, events, created_by, active, created_at, secret)
         values (?, ?, ?, ?, ?, true, ?, ?) returning id",
    )
    .bind(w.project_id)
    .bind(w.url)
    .bind(w.format)
    .bind(w.events)
    .bind(w.created_by)
    .bind(now)
    .bind(w.secret)
    .fetch_one(conn)
    .await
}

pub async fn list(conn: &mut Conn, project_id: i64) -> Result<Vec<WebhookRow>, sqlx::Error> {
    crate::db::query_as(&format!(
        "{WEBHOOK_SELECT} where project_id = ? order by id"
    ))
    .bind(project_id)
    .fetch_all(conn)
    .await
}

pub async fn get(
    conn: &mut Conn,
    project_id: i64,
    id: i64,
) -> Result<Option<WebhookRow>, sqlx::Error> {
    crate::db::query_as(&format!("{WEBHOOK_SELECT} where project_id = ? and id = ?"))
        .bind(project_id)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Deletes the webhook and its pending and past deliveries.
pub async fn delete(conn: &mut Conn, project_id: i64, id: i64) -> Result<bool, sqlx::Error> {
    crate::db::query("delete from webhook_outbox where webhook_id = (select id from webhooks where project_id = ? and id = ?)")
        .bind(project_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let done = crate::db::query("delete from webhooks where project_id = ? and id = ?")
        .bind(project_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// One outbox row per active webhook of the project that listens to `event`, due at once.
pub async fn enqueue(
    conn: &mut Conn,
    project_id: i64,
    event: &str,
    body: &str,
    now: &str,
) -> Result<u64, sqlx::Error> {
    let sql = format!(
        "insert into webhook_outbox (webhook_id, event, body, attempts, next_attempt_at, created_at)
         select id, ?, ?, 0, ?, ? from webhooks
         where project_id = ? and active
           and (events = '' or {})",
        conn.backend()
            .contains("',' || events || ','", "',' || ? || ','")
    );
    let done = crate::db::query(&sql)
        .bind(event)
        .bind(body)
        .bind(now)
        .bind(now)
        .bind(project_id)
        .bind(event)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// A delivery waiting to be sent, with where and how. Deliveries to one webhook go in order: a
/// row waiting for its retry holds back the later rows of its webhook (until delivered or
/// given up).
#[derive(Clone, FromRow)]
pub struct DueRow {
    pub id: i64,
    pub webhook_id: i64,
    pub body: String,
    pub attempts: i64,
    pub url: String,
    pub format: String,
    pub secret: String,
}

/// Claims the due deliveries (at most `limit`, oldest first) for this process for `lease`: no
/// other replica sends them meanwhile, nor a later delivery to the same webhook; the outcome
/// ([`mark_delivered`], [`mark_failed`]) or [`release`] ends the claim. A process that dies
/// while holding a claim only delays those rows until the lease ends. Due is by the server's
/// clock (`now`), the lease by the database's, which all replicas share: with the replicas'
/// clocks apart by more than a lease, one would otherwise take a delivery another is sending.
/// The claim is one statement: on PostgreSQL two replicas claiming at once skip each other's
/// locked rows (`skip locked`), and one that finds a row claimed meanwhile re-reads it, leased;
/// SQLite has one process.
pub async fn claim_due(
    conn: &mut Conn,
    now: &str,
    lease: std::time::Duration,
    limit: i64,
) -> Result<Vec<DueRow>, sqlx::Error> {
    let backend = conn.backend();
    let lock = match backend {
        crate::db::Backend::Postgres => " for update of o skip locked",
        crate::db::Backend::Sqlite => "",
    };
    let (db_now, lease_until) = (backend.now_stamp(), backend.stamp_in(lease.as_secs()));
    let claimed: Vec<i64> = crate::db::query_scalar(&format!(
        "update webhook_outbox set lease_until = {lease_until}
         where id in (
           select o.id from webhook_outbox o join webhooks w on w.id = o.webhook_id
           where o.next_attempt_at is not null and o.next_attempt_at <= ? and w.active
             and (o.lease_until is null or o.lease_until <= {db_now})
             and not exists (select 1 from webhook_outbox p
                             where p.webhook_id = o.webhook_id and p.id < o.id
                               and p.next_attempt_at is not null
                               and (p.next_attempt_at > ? or p.lease_until > {db_now}))
           order by o.id limit ?{lock})
         returning id"
    ))
    .bind(now)
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = crate::db::QueryBuilder::new(
        "select o.id, o.webhook_id, o.body, o.attempts, w.url, w.format, w.secret
         from webhook_outbox o join webhooks w on w.id = o.webhook_id where o.id in (",
    );
    let mut ids = q.separated(", ");
    for id in claimed {
        ids.push_bind(id);
    }
    q.push(") order by o.id");
    q.build_query_as().fetch_all(conn).await
}

/// Gives back claimed deliveries not attempted (held back behind a failed one), due at `now`.
pub async fn release(conn: &mut Conn, ids: &[i64], now: &str) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut q = crate::db::QueryBuilder::new(
        "update webhook_outbox set lease_until = null, next_attempt_at = ",
    );
    q.push_bind(now.to_string());
    q.push(" where delivered_at is null and id in (");
    let mut sep = q.separated(", ");
    for id in ids {
        sep.push_bind(*id);
    }
    q.push(")");
    q.build().execute(conn).await?;
    Ok(())
}

pub async fn mark_delivered(conn: &mut Conn, id: i64, now: &str) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update webhook_outbox set attempts = attempts + 1, delivered_at = ?,
             next_attempt_at = null, lease_until = null, last_error = null where id = ?",
    )
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed attempt; `next` is when to try again, or none to give up.
pub async fn mark_failed(
    conn: &mut Conn,
    id: i64,
    error: &str,
    next: Option<&str>,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update webhook_outbox set attempts = attempts + 1, last_error = ?, next_attempt_at = ?,
             lease_until = null where id = ?",
    )
    .bind(error)
    .bind(next)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub event: String,
    pub body: String,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
    pub last_error: Option<String>,
    pub created_at: String,
}

/// The latest deliveries of a webhook, newest first.
pub async fn deliveries(
    conn: &mut Conn,
    webhook_id: i64,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    crate::db::query_as(
        "select id, event, body, attempts, next_attempt_at, delivered_at, last_error, created_at
         from webhook_outbox where webhook_id = ? order by id desc limit ?",
    )
    .bind(webhook_id)
    .bind(limit)
    .fetch_all(conn)
    .await
}
