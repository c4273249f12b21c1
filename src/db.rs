//! The connection pool: SQLite in WAL mode with foreign keys, a busy timeout and full sync.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
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

/// Writes take the lock up front: a deferred transaction that reads first and writes later
/// can fail with SQLITE_BUSY_SNAPSHOT, which the busy timeout does not retry.
pub async fn begin_write(db: &Db) -> Result<Tx, sqlx::Error> {
    db.begin_with("begin immediate").await
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
