//! The background job that applies scheduled change requests when their time comes.
//!
//! State lives in the database (`state = 'scheduled'`, `scheduled_at`), so a request scheduled
//! before a restart is applied by the next process. Time comes from the application's clock.
//! Every replica on a shared database ticks; each due request is claimed inside its write
//! transaction (`store::claim_scheduled`), so it is applied once whichever replica gets it.

use super::{service, store};
use crate::clock::{stamp, SharedClock};
use crate::db::Writes;
use std::time::Duration;

pub const TICK: Duration = Duration::from_secs(1);

/// Starts ticking; runs until the process ends. Each request applied or failed is committed
/// through `writes`, so the feed is told at once.
pub fn start(writes: Writes, clock: SharedClock) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(TICK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if let Err(e) = run_due(&writes, &clock).await {
                tracing::warn!(error = %e, "the change scheduler could not look for due requests");
            }
        }
    });
}

/// Applies every due request once; a refusal marks it failed (the service does that).
pub async fn run_due(writes: &Writes, clock: &SharedClock) -> anyhow::Result<()> {
    let now = clock.now();
    let due = {
        let mut conn = writes.db.acquire().await?;
        store::due(&mut conn, &stamp(now)).await?
    };
    for id in due {
        match service::apply_scheduled(writes, id, now).await {
            Ok(Some(_)) => {
                tracing::info!(change_request = id, "applied a scheduled change request")
            }
            Ok(None) => tracing::debug!(change_request = id, "another process took the request"),
            Err(e) => {
                tracing::warn!(change_request = id, error = %e, "a scheduled change request failed")
            }
        }
    }
    Ok(())
}
