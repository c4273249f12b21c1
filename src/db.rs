//! The connection pool: SQLite in WAL mode with foreign keys, a busy timeout and full sync; and
//! the write path's two ends, [`begin_write`] and [`Writes::commit`], after which whoever serves
//! the data is told.

use crate::error::AppResult;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub type Db = SqlitePool;
pub type Tx = Transaction<'static, Sqlite>;

pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

pub async fn connect(url: &str) -> anyhow::Result<Db> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| anyhow::anyhow!("the database URL {url:?} is not valid: {e}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: an acknowledged write survives power loss, not only a crash of the process.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(BUSY_TIMEOUT + Duration::from_secs(1))
        .connect_with(options)
        .await
        .map_err(|e| anyhow::anyhow!("could not open the database {url}: {e}"))?;
    sqlx::migrate!()
        .run(&pool)
        .await
        .map_err(|e| anyhow::anyhow!("could not prepare the database schema: {e}"))?;
    Ok(pool)
}

/// Whether the database answers (the readiness probe).
pub async fn ping(db: &Db) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    db.acquire().await?.ping().await
}

/// Writes take the lock up front: a deferred transaction that reads first and writes later
/// can fail with SQLITE_BUSY_SNAPSHOT, which the busy timeout does not retry.
pub async fn begin_write(db: &Db) -> Result<Tx, sqlx::Error> {
    db.begin_with("begin immediate").await
}

/// What a commit is followed by: in a server, the feed's watcher catching up with it (waited for,
/// so a write is answered once the feed serves it: read-your-writes). Handed in by whoever
/// starts the server, so the write path stays below the feed.
pub type AfterCommit = Arc<dyn Fn() -> futures_util::future::BoxFuture<'static, ()> + Send + Sync>;

/// Where writes are committed: the pool, and what follows each commit.
#[derive(Clone)]
pub struct Writes {
    pub db: Db,
    after_commit: AfterCommit,
}

impl Writes {
    pub fn new(db: Db, after_commit: AfterCommit) -> Self {
        Writes { db, after_commit }
    }

    /// For writes no feed in this process serves: the CLI's, and the server's own before its
    /// feed starts (the feed's first load reads them). A running server's watcher finds them
    /// by polling the audit head.
    pub fn unobserved(db: Db) -> Self {
        Writes::new(db, Arc::new(|| Box::pin(std::future::ready(()))))
    }

    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        begin_write(&self.db).await
    }

    /// Commits, then tells the feed (and waits, within its bound, until it serves the write).
    pub async fn commit(&self, tx: Tx) -> Result<(), sqlx::Error> {
        #[allow(clippy::disallowed_methods)] // the one commit of a whole write
        tx.commit().await?;
        (self.after_commit)().await;
        Ok(())
    }

    /// Commits when the step succeeded; a failed step's transaction rolls back when dropped.
    pub async fn commit_if_ok<T>(&self, tx: Tx, step: AppResult<T>) -> AppResult<T> {
        if step.is_ok() {
            self.commit(tx).await?;
        }
        step
    }
}

/// True when a database error is a unique-constraint violation on the given column.
/// SQLite has no constraint names, so the column in the message is what tells them apart.
pub fn is_unique_violation(err: &sqlx::Error, column: &str) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.kind() == sqlx::error::ErrorKind::UniqueViolation && db.message().contains(column)
        }
        _ => false,
    }
}
