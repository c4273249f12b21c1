//! The few counts a scrape reads from the database: work waiting for people and for the
//! webhook deliverer. Each is answered from an index (`change_requests_due`,
//! `webhook_outbox_due`), so a scrape stays cheap however long the history grows.

use crate::db::Conn;

/// Change-request states that still wait for someone (or for the scheduler).
pub const OPEN_STATES: [&str; 5] = ["draft", "in-review", "approved", "scheduled", "failed"];

/// What waits, counted now.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Backlog {
    /// Open change requests per state, in [`OPEN_STATES`] order.
    pub change_requests: [i64; OPEN_STATES.len()],
    /// Webhook deliveries not yet delivered nor given up.
    pub outbox_pending: i64,
    /// Of those, the ones that failed at least once and wait for their retry.
    pub outbox_retrying: i64,
}

pub async fn backlog(conn: &mut Conn) -> Result<Backlog, sqlx::Error> {
    let mut out = Backlog::default();
    let rows: Vec<(String, i64)> = crate::db::query_as(
        "select state, count(*) from change_requests
         where state in ('draft', 'in-review', 'approved', 'scheduled', 'failed')
         group by state",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (state, n) in rows {
        if let Some(i) = OPEN_STATES.iter().position(|s| *s == state) {
            out.change_requests[i] = n;
        }
    }
    let (pending, retrying): (i64, i64) = crate::db::query_as(
        "select count(*), coalesce(sum(case when attempts > 0 then 1 else 0 end), 0)
         from webhook_outbox where next_attempt_at is not null",
    )
    .fetch_one(&mut *conn)
    .await?;
    out.outbox_pending = pending;
    out.outbox_retrying = retrying;
    Ok(out)
}
