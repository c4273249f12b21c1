//! The database, chosen by the URL's scheme: embedded SQLite (the default: a file path or
//! `sqlite:`) in WAL mode with foreign keys, a busy timeout and full sync, or PostgreSQL
//! (`postgres://`, `postgresql://`). Stores take one connection type, [`Conn`], and build
//! their SQL once with [`query`] and friends. Here too are the write path's two ends,
//! [`begin_write`] and [`Writes::commit`], after which whoever serves the data is told.

mod builder;
mod conn;
pub mod notify;
mod query;
mod turns;

pub use builder::{QueryBuilder, Separated};
pub use conn::{Conn, Pooled, Savepoint, Tx};
pub use query::{
    numbered, query, query_as, query_scalar, AnyScalar, Arg, Done, Exec, FromAnyRow, IntoArg,
    Query, QueryAs, QueryScalar,
};

use crate::error::AppResult;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use turns::Turns;

/// Which database a connection speaks to, for the few statements written differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// A subquery of the texts in a JSON array parameter (`param` such as `?2`), for
    /// `key in (…)` with any number of keys in one statement.
    pub fn json_texts(self, param: &str) -> String {
        match self {
            Backend::Sqlite => format!("select value from json_each({param})"),
            Backend::Postgres => format!("select json_array_elements_text(cast({param} as json))"),
        }
    }

    /// The current time as a stamp (`clock::stamp`'s format), for comparing stored stamps.
    pub fn now_stamp(self) -> &'static str {
        match self {
            Backend::Sqlite => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            Backend::Postgres => {
                "to_char(now() at time zone 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
            }
        }
    }

    /// The current time plus `secs` seconds as a stamp, for a lease every process measures on
    /// the database's one clock.
    pub fn stamp_in(self, secs: u64) -> String {
        match self {
            Backend::Sqlite => format!("strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+{secs} seconds')"),
            Backend::Postgres => format!(
                "to_char((now() + interval '{secs} seconds') at time zone 'utc', \
                 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
            ),
        }
    }

    /// Whether text `needle` occurs in text `haystack` (both SQL expressions).
    pub fn contains(self, haystack: &str, needle: &str) -> String {
        match self {
            Backend::Sqlite => format!("instr({haystack}, {needle}) > 0"),
            Backend::Postgres => format!("strpos({haystack}, {needle}) > 0"),
        }
    }

    /// LIKE that ignores ASCII case on both (SQLite's LIKE does; PostgreSQL's is ILIKE).
    pub fn like(self) -> &'static str {
        match self {
            Backend::Sqlite => "like",
            Backend::Postgres => "ilike",
        }
    }
}

/// The pool (cheap to clone), and on SQLite the queue its writers wait in (`turns`).
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool, Turns),
    Postgres(PgPool),
}

impl Db {
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(..) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// A connection for reads.
    pub async fn acquire(&self) -> Result<Pooled, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(p, _) => Pooled::sqlite(p.acquire().await?),
            Db::Postgres(p) => Pooled::postgres(p.acquire().await?),
        })
    }

    /// The SQLite pool, for what only SQLite does (its session store, its file checks).
    pub fn sqlite(&self) -> Option<&SqlitePool> {
        match self {
            Db::Sqlite(p, _) => Some(p),
            Db::Postgres(_) => None,
        }
    }

    /// Connections the pool holds now, idle or in use.
    pub fn size(&self) -> u32 {
        match self {
            Db::Sqlite(p, _) => p.size(),
            Db::Postgres(p) => p.size(),
        }
    }

    /// Connections the pool holds idle.
    pub fn num_idle(&self) -> usize {
        match self {
            Db::Sqlite(p, _) => p.num_idle(),
            Db::Postgres(p) => p.num_idle(),
        }
    }

    /// The most connections the pool opens.
    pub fn max_connections(&self) -> u32 {
        match self {
            Db::Sqlite(p, _) => p.options().get_max_connections(),
            Db::Postgres(p) => p.options().get_max_connections(),
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(p, _) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }
}

/// The error for what is not yet written for PostgreSQL: said plainly, never a wrong answer.
pub fn unsupported(what: &str) -> sqlx::Error {
    sqlx::Error::Configuration(format!("{what} is not supported on PostgreSQL yet").into())
}

pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request waits for a PostgreSQL connection. While the server is away sqlx retries
/// the refused connection until then, and the request is answered 503 after it: short, so that
/// a write is refused within a few seconds instead of hanging, yet far above a wait for a free
/// connection under load (writes hold one only while they run).
const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a PostgreSQL statement may go unanswered before the caller is told the database is
/// unavailable. A server that is down refuses connections at once, but one behind a network
/// partition says nothing: the socket stays open and, without this bound, a request waits for
/// the kernel to give up on it (a quarter of an hour). Above the server's own statement
/// timeout (5 s), so a slow statement is cancelled by the server first, leaving a usable
/// connection.
pub const PG_ANSWER_WITHIN: Duration = Duration::from_secs(7);

/// How long a connection given back to the pool has to answer a ping; one that does not is
/// closed rather than handed to the next request (or held forever by the pool's own check).
const PG_RELEASE_PING: Duration = Duration::from_secs(2);

/// What each PostgreSQL session asks of the server, for its side of a partition. A statement
/// runs at most 5 s (the write lock's wait included, so a write held up behind a replica cut
/// off mid-transaction is refused rather than queued; writes hold the lock for milliseconds);
/// a transaction left idle for 10 s (its replica gone silent) is ended, releasing the write
/// lock; and a client whose packets stop being acknowledged, or which stops answering
/// keep-alive probes, is dropped within about 25 s, ending whatever it held.
///
/// The idle timeout is how long every replica's writes are refused after one is cut off while
/// holding the lock (`tests/it/partition_lock.rs`), so it is short; it can be, because no
/// transaction here waits between its statements on anything unbounded: each statement is
/// given up after 7 s ([`PG_ANSWER_WITHIN`]) and a second connection after 3 s, and what may
/// take long (hashing a password, resolving a webhook's host, sending a delivery, the feed's
/// catch-up after a commit) happens outside the transaction. A live replica leaves one idle
/// for milliseconds; 10 s leaves room for a starved machine's pauses. The keep-alive bound
/// does not cover this case: a partition that leaves the server's socket answered (a proxy
/// or a NAT in between still up) keeps the session alive.
const PG_SESSION_SETTINGS: [(&str, &str); 6] = [
    ("statement_timeout", "5s"),
    ("idle_in_transaction_session_timeout", "10s"),
    ("tcp_keepalives_idle", "10"),
    ("tcp_keepalives_interval", "5"),
    ("tcp_keepalives_count", "3"),
    ("tcp_user_timeout", "20000"),
];

/// `work` on PostgreSQL, given up after [`PG_ANSWER_WITHIN`] with an I/O error (which the
/// callers answer as "database unavailable", 503). The connection it ran on is then in an
/// unknown state: the pool closes it when it comes back (`after_release`).
pub(crate) async fn answered<T>(
    work: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, sqlx::Error> {
    within(PG_ANSWER_WITHIN, work).await
}

async fn within<T>(
    limit: Duration,
    work: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, sqlx::Error> {
    match tokio::time::timeout(limit, work).await {
        Ok(done) => done,
        Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("the database did not answer within {} s", limit.as_secs()),
        ))),
    }
}

/// Whether the URL names a PostgreSQL database (anything else is SQLite).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

pub async fn connect(url: &str) -> anyhow::Result<Db> {
    if is_postgres_url(url) {
        return connect_postgres(url).await;
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| anyhow::anyhow!("the database URL {url:?} is not valid: {e}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: an acknowledged write survives power loss, not only a crash of the process.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        // 1 MiB of page cache per connection instead of SQLite's 2: once the eight connections
        // have each read the flag table (pages at 10,000 flags), they held 16 MiB of copies of
        // pages the kernel's cache keeps anyway.
        .pragma("cache_size", "-1024");
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(BUSY_TIMEOUT + Duration::from_secs(1))
        .connect_with(options)
        .await
        .map_err(|e| anyhow::anyhow!("could not open the database {url}: {e}"))?;
    sqlx::migrate!("./migrations/sqlite")
        .run(&pool)
        .await
        .map_err(|e| anyhow::anyhow!("could not prepare the database schema: {e}"))?;
    Ok(Db::Sqlite(pool, Turns::default()))
}

async fn connect_postgres(url: &str) -> anyhow::Result<Db> {
    use sqlx::Connection;
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| anyhow::anyhow!("the database URL {url:?} is not valid: {e}"))?;
    // The schema on a connection of its own, without the statement timeout below: building an
    // index on a large table may take longer than any request should.
    let mut conn = sqlx::PgConnection::connect_with(&options)
        .await
        .map_err(|e| anyhow::anyhow!("could not open the database {url}: {e}"))?;
    sqlx::migrate!("./migrations/postgres")
        .run(&mut conn)
        .await
        .map_err(|e| anyhow::anyhow!("could not prepare the database schema: {e}"))?;
    let _ = conn.close().await;
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(PG_ACQUIRE_TIMEOUT)
        .after_release(|conn, _| {
            Box::pin(async move {
                within(PG_RELEASE_PING, conn.ping()).await?;
                Ok(true)
            })
        })
        .connect_with(options.options(PG_SESSION_SETTINGS))
        .await
        .map_err(|e| anyhow::anyhow!("could not open the database {url}: {e}"))?;
    Ok(Db::Postgres(pool))
}

/// Whether the database answers (the readiness probe).
pub async fn ping(db: &Db) -> Result<(), sqlx::Error> {
    use sqlx::Connection;
    match db {
        Db::Sqlite(p, _) => p.acquire().await?.ping().await,
        Db::Postgres(p) => answered(async { p.acquire().await?.ping().await }).await,
    }
}

/// Writes take the lock up front: a deferred SQLite transaction that reads first and writes
/// later can fail with SQLITE_BUSY_SNAPSHOT, which the busy timeout does not retry. Before it,
/// a SQLite writer waits its turn behind this process's other writers (`turns`), so they get
/// the file in the order they asked rather than by the busy handler's luck. On
/// PostgreSQL the same one-writer-at-a-time is a transaction-scoped advisory lock, so what a
/// write reads (the audit chain's head, a version it checks) stays true until it commits,
/// whichever replica writes; the same statement queues the commit's signal to the other
/// replicas (`notify`).
pub fn begin_write(db: &Db) -> futures_util::future::BoxFuture<'_, Result<Tx, sqlx::Error>> {
    Box::pin(async move {
        Ok(match db {
            Db::Sqlite(p, turns) => {
                // The turn first, then the connection: writers waiting their turn hold none.
                let turn = turns.take(BUSY_TIMEOUT).await?;
                Tx::sqlite(p.begin_with("begin immediate").await?, turn)
            }
            Db::Postgres(p) => {
                let mut tx = answered(p.begin()).await?;
                // The signal goes out at commit (`notify::listen` in every replica hears it).
                answered(
                    sqlx::query("select pg_advisory_xact_lock($1), pg_notify($2, '')")
                        .bind(WRITE_LOCK)
                        .bind(notify::CHANNEL)
                        .execute(&mut *tx),
                )
                .await?;
                Tx::postgres(tx)
            }
        })
    })
}

/// The advisory lock key every PostgreSQL write holds ("SWYD").
const WRITE_LOCK: i64 = 0x5357_5944;

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
/// SQLite has no constraint names, so the column in the message is what tells them apart;
/// PostgreSQL names the constraint, whose name holds the column (`table_column_key`).
pub fn is_unique_violation(err: &sqlx::Error, column: &str) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            let column = column.rsplit('.').next().unwrap_or(column);
            db.kind() == sqlx::error::ErrorKind::UniqueViolation
                && (db.message().contains(column)
                    || db.constraint().is_some_and(|c| c.contains(column)))
        }
        _ => false,
    }
}
