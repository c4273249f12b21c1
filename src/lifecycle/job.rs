//! The background assessment: every project's flags are assessed again at an interval, since
//! time alone makes flags stale (an expected lifetime passes, a flag stays off). Reading happens
//! outside the write lock; only storing the result takes it. The first run of each UTC day also
//! records every project's stale count for that day (`history`).

use super::{assess, history};
use crate::clock::SharedClock;
use crate::db::{begin_write, Db};
use std::sync::Arc;
use std::time::Duration;

/// Told when an assessment turned flags stale or back (the feed serves `stale`).
pub type Committed = Arc<dyn Fn() + Send + Sync>;

pub fn start(db: Db, clock: SharedClock, every: Duration, committed: Committed) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match run_once(&db, &clock).await {
                Ok(0) => {}
                Ok(_) => committed(),
                Err(e) => tracing::warn!(error = %e, "could not assess the flags' lifecycle"),
            }
        }
    });
}

/// Assesses and stores every project once; how many flags changed between stale and not.
pub async fn run_once(db: &Db, clock: &SharedClock) -> anyhow::Result<usize> {
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
        let mut tx = begin_write(db).await?;
        moved += assess::record(&mut tx, &project, &assessed, now).await?;
        history::record_today(&mut tx, project.id, now).await?;
        tx.commit().await?;
    }
    Ok(moved)
}
