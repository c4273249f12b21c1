//! Scheduled requests: which are due, and claiming one so that a single replica applies it.

use crate::db::Conn;

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
