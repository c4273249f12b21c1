//! The background job that applies scheduled change requests when their time comes.
//!
//! State lives in the database (`state = 'scheduled'`, `scheduled_at`), so a request scheduled
//! before a restart is applied by the next process. Time comes from the application's clock.

use super::{service, store};
use crate::clock::{stamp, SharedClock};
use crate::db::Db;
use std::sync::Arc;
use std::time::Duration;

pub const TICK: Duration = Duration::from_secs(1);

/// Told after each request the scheduler applied or failed (the feed rebuilds then).
pub type Committed = Arc<dyn Fn() + Send + Sync>;

/// Starts ticking; runs until the process ends.
pub fn start(db: Db, clock: SharedClock, committed: Committed) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(e) = run_due(&db, &clock, &committed).await {
                tracing::warn!(error = %e, "the change scheduler could not look for due requests");
            }
        }
    });
}

/// Applies every due request once; a refusal marks it failed (the service does that).
pub async fn run_due(db: &Db, clock: &SharedClock, committed: &Committed) -> anyhow::Result<()> {
    let now = clock.now();
    let due = {
        let mut conn = db.acquire().await?;
        store::due(&mut conn, &stamp(now)).await?
    };
    for id in due {
        match service::apply_scheduled(db, id, now).await {
            Ok(_) => tracing::info!(change_request = id, "applied a scheduled change request"),
            Err(e) => {
                tracing::warn!(change_request = id, error = %e, "a scheduled change request failed")
            }
        }
        // Applied or failed, the database changed: let the feed catch up at once.
        committed();
    }
    Ok(())
}
