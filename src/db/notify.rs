//! Telling other processes on the same PostgreSQL database that a write committed: every write
//! transaction signals [`CHANNEL`] (delivered by PostgreSQL at commit, never for a rollback),
//! and [`listen`] wakes this process's feed for each signal, so a change through one replica
//! reaches the others' feeds at once rather than at their next poll of the audit head. The poll
//! stays the catch-up for a signal lost while a listener reconnects. SQLite has one process and
//! no signal.

use super::Db;
use sqlx::postgres::PgListener;
use std::time::Duration;

/// The channel every committed write signals.
pub const CHANNEL: &str = "switchyard_changes";

/// After a lost listening connection, how long before listening again.
const RETRY: Duration = Duration::from_secs(1);

/// On PostgreSQL, calls `wake` for every write committed by any process on the database (and
/// once after each reconnect, for what was missed); runs until the pool closes. Nothing on
/// SQLite.
pub fn listen(db: &Db, wake: impl Fn() + Send + 'static) {
    let Db::Postgres(pool) = db else {
        return;
    };
    let pool = pool.clone();
    tokio::spawn(async move {
        loop {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(l) => l,
                Err(e) if pool.is_closed() => return tracing::debug!(error = %e, "stopped"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not listen for other replicas' writes; polling only");
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen(CHANNEL).await {
                tracing::warn!(error = %e, "could not listen for other replicas' writes; polling only");
                tokio::time::sleep(RETRY).await;
                continue;
            }
            loop {
                match listener.try_recv().await {
                    Ok(Some(_)) => wake(),
                    // Reconnected: what was signalled meanwhile is lost, so look now.
                    Ok(None) => wake(),
                    Err(e) => {
                        if pool.is_closed() {
                            return;
                        }
                        tracing::warn!(error = %e, "lost the listening connection; polling until it is back");
                        tokio::time::sleep(RETRY).await;
                        break;
                    }
                }
            }
        }
    });
}
