//! SQLite's writers in one process take turns in the order they asked. SQLite itself has no
//! queue: a writer that finds the file locked sleeps in its busy handler, with sleeps that grow
//! to 100 ms, and whoever asks just as the lock frees takes it, so with eight writers one could
//! lose again and again (p99 close to a second where p50 was 6 ms, `bench/results.md`). Here a
//! writer first waits on a fair (first come, first served) async lock, held by its [`Tx`] until
//! it commits, rolls back or is dropped; the busy timeout is then left for writers in other
//! processes (the CLI on the same file). PostgreSQL's writers queue on its advisory lock instead.
//!
//! [`Tx`]: super::Tx

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OwnedMutexGuard;
use tokio::task::Id;

/// The queue of one database's writers (cheap to clone: every clone is the same queue).
#[derive(Clone, Debug, Default)]
pub struct Turns {
    lock: Arc<tokio::sync::Mutex<()>>,
    /// The task whose write holds the turn, when it runs in a task: a write beginning in that
    /// same task would wait for itself.
    holder: Arc<Mutex<Option<Id>>>,
}

/// A writer's turn, given back when dropped.
pub struct Turn {
    holder: Arc<Mutex<Option<Id>>>,
    _held: OwnedMutexGuard<()>,
}

impl Turns {
    /// Waits for this writer's turn, behind every writer that asked before, for at most
    /// `within` (then refused as busy, as SQLite's own busy timeout would refuse it).
    pub(crate) async fn take(&self, within: Duration) -> Result<Turn, sqlx::Error> {
        let me = tokio::task::try_id();
        debug_assert!(
            me.is_none() || *self.holder.lock().unwrap_or_else(|e| e.into_inner()) != me,
            "a write began in a task whose own write transaction is still open: it would wait \
             for itself; finish the first (commit or drop it) before beginning another"
        );
        let held = tokio::time::timeout(within, self.lock.clone().lock_owned())
            .await
            .map_err(|_| {
                sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the writes queued before this one held the database for {} s",
                        within.as_secs()
                    ),
                ))
            })?;
        *self.holder.lock().unwrap_or_else(|e| e.into_inner()) = me;
        Ok(Turn {
            holder: self.holder.clone(),
            _held: held,
        })
    }
}

impl Drop for Turn {
    /// Runs before the lock is given up (fields drop after this), so the next writer never
    /// sees this one's task as the holder.
    fn drop(&mut self) {
        *self.holder.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use crate::db::{begin_write, connect, Db, Tx, Writes};
    use futures_util::future::BoxFuture;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll, Waker};

    async fn database() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("turns.db").display());
        let db = connect(&url).await.unwrap();
        (dir, db)
    }

    /// Polls `f` once: whether it finished (it has asked for its turn either way).
    fn poll_once<T>(f: &mut BoxFuture<'_, T>) -> Poll<T> {
        f.as_mut().poll(&mut Context::from_waker(Waker::noop()))
    }

    /// A writer that notes its name once its transaction began, then commits.
    fn writer<'a>(
        begin: BoxFuture<'a, Result<Tx, sqlx::Error>>,
        writes: &'a Writes,
        name: &'static str,
        order: Arc<Mutex<Vec<&'static str>>>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let tx = begin.await.unwrap();
            order.lock().unwrap().push(name);
            writes.commit(tx).await.unwrap();
        })
    }

    #[tokio::test]
    async fn writers_begin_in_the_order_they_asked_and_a_dropped_transaction_lets_the_next_in() {
        let (_dir, db) = database().await;
        let writes = Writes::unobserved(db.clone());
        let first = begin_write(&db).await.unwrap();

        // Three writers ask while the first is open, in this order; none gets in.
        let mut second = begin_write(&db);
        let mut third = begin_write(&db);
        let mut fourth = begin_write(&db);
        for waiting in [&mut second, &mut third, &mut fourth] {
            assert!(
                poll_once(waiting).is_pending(),
                "began beside an open write"
            );
        }

        // Dropped without commit: the turn passes to the writer that asked first after it, and
        // the other two still wait.
        drop(first);
        let second = second.await.unwrap();
        assert!(poll_once(&mut third).is_pending());
        assert!(poll_once(&mut fourth).is_pending());
        drop(second);

        // Both at once, the later one polled first: they still begin in the order they asked.
        let order = Arc::new(Mutex::new(Vec::new()));
        futures_util::future::join(
            writer(fourth, &writes, "fourth", order.clone()),
            writer(third, &writes, "third", order.clone()),
        )
        .await;
        assert_eq!(*order.lock().unwrap(), ["third", "fourth"]);

        // And the database is free again for the next one.
        writes
            .commit(begin_write(&db).await.unwrap())
            .await
            .unwrap();
    }
}
