//! The background assessment: every project's flags are assessed again at an interval, since
//! time alone makes flags stale (an expected lifetime passes, a flag stays off). Reading happens
//! outside the write lock; only storing the result takes it. The first run of each UTC day also
//! records every project's stale count for that day (`history`).

use super::{assess, history};
use crate::clock::SharedClock;
use crate::db::Writes;
use std::time::Duration;

/// Assesses every `every`; each project's assessment is committed through `writes`, so the feed
/// (which serves `stale`) is told at once.
pub fn start(writes: Writes, clock: SharedClock, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = run_once(&writes, &clock).await {
                tracing::warn!(error = %e, "could not assess the flags' lifecycle");
            }
        }
    });
}

/// Assesses and stores every project once; how many flags changed between stale and not.
pub async fn run_once(writes: &Writes, clock: &SharedClock) -> anyhow::Result<usize> {
    let db = &writes.db;
    let projects = {
        let mut conn = db.acquire().await?;
        crate::projects::store::all_projects(&mut conn).await?
    };
    let mut moved = 0;
    for project in projects {
        let now = clock.now();
        let assessed = {
            let mut conn = db.acquire().await?;
            assess::project(&mut conn, &project, now).await?
        };
        let mut tx = writes.begin().await?;
        moved += assess::record(&mut tx, &project, &assessed, now).await?;
        history::record_today(&mut tx, project.id, now).await?;
        writes.commit(tx).await?;
    }
    Ok(moved)
}
