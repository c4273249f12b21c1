//! The one connection type every store function takes, whichever database the URL chose:
//! [`Conn`], reached through a write transaction ([`Tx`]), a pooled read connection
//! ([`Pooled`]) or a savepoint inside either ([`Savepoint`]). All three deref to `Conn`, as
//! sqlx's transaction and pool connection deref to their connection, so callers pass
//! `&mut tx`, `&mut conn` or `&mut *conn` as before.

use super::turns::Turn;
use super::Backend;
use futures_util::future::BoxFuture;
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres, Sqlite, SqliteConnection, Transaction};
use std::ops::{Deref, DerefMut};

enum Inner {
    SqliteTx(Transaction<'static, Sqlite>),
    SqlitePooled(PoolConnection<Sqlite>),
    PgTx(Transaction<'static, Postgres>),
    PgPooled(PoolConnection<Postgres>),
}

/// A connection, in a transaction or not.
pub struct Conn {
    inner: Inner,
    /// Savepoints (or a dry-run transaction) opened through [`Conn::begin`] and still open.
    depth: u32,
    /// Levels of savepoints dropped without commit or rollback: rolled back before the next
    /// statement, as sqlx does for a dropped transaction (a drop cannot wait on the database).
    undo: Vec<u32>,
}

/// The driver's own connection, for the query layer.
pub(crate) enum Raw<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

impl Conn {
    fn new(inner: Inner) -> Conn {
        Conn {
            inner,
            depth: 0,
            undo: Vec::new(),
        }
    }

    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::SqliteTx(_) | Inner::SqlitePooled(_) => Backend::Sqlite,
            Inner::PgTx(_) | Inner::PgPooled(_) => Backend::Postgres,
        }
    }

    fn raw_now(&mut self) -> Raw<'_> {
        match &mut self.inner {
            Inner::SqliteTx(tx) => Raw::Sqlite(tx),
            Inner::SqlitePooled(c) => Raw::Sqlite(c),
            Inner::PgTx(tx) => Raw::Postgres(tx),
            Inner::PgPooled(c) => Raw::Postgres(c),
        }
    }

    /// The driver connection, after rolling back what dropped savepoints left behind.
    pub(crate) async fn raw(&mut self) -> Result<Raw<'_>, sqlx::Error> {
        while let Some(level) = self.undo.pop() {
            for sql in self.rollback_sql(level) {
                self.plain(&sql).await?;
            }
        }
        Ok(self.raw_now())
    }

    /// A statement without values (transaction control). Boxed, so the future is proven
    /// `Send` here with named lifetimes (see `query/run.rs`).
    fn plain<'a>(&'a mut self, sql: &'a str) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        use sqlx::Executor;
        match self.raw_now() {
            Raw::Sqlite(c) => Box::pin(async move { c.execute(sql).await.map(|_| ()) }),
            Raw::Postgres(c) => {
                Box::pin(async move { super::answered(c.execute(sql)).await.map(|_| ()) })
            }
        }
    }

    /// The SQLite connection underneath, for code not yet written for both databases; on
    /// PostgreSQL it is a clear error rather than a wrong answer.
    pub async fn sqlite(&mut self) -> Result<&mut SqliteConnection, sqlx::Error> {
        match self.raw().await? {
            Raw::Sqlite(c) => Ok(c),
            Raw::Postgres(_) => Err(super::unsupported("this operation")),
        }
    }

    /// A savepoint (or, outside a transaction, a transaction) that [`Savepoint::commit`] keeps
    /// and [`Savepoint::rollback`] or a drop undoes.
    pub async fn begin(&mut self) -> Result<Savepoint<'_>, sqlx::Error> {
        let level = self.depth;
        let sql = if level == 0 && !self.in_transaction() {
            "begin".to_string()
        } else {
            format!("savepoint sy_{level}")
        };
        self.raw().await?;
        self.plain(&sql).await?;
        self.depth += 1;
        Ok(Savepoint {
            conn: self,
            level,
            done: false,
        })
    }

    fn in_transaction(&self) -> bool {
        matches!(self.inner, Inner::SqliteTx(_) | Inner::PgTx(_))
    }

    fn opens_transaction(&self, level: u32) -> bool {
        level == 0 && !self.in_transaction()
    }

    fn rollback_sql(&self, level: u32) -> Vec<String> {
        if self.opens_transaction(level) {
            return vec!["rollback".to_string()];
        }
        vec![
            format!("rollback to savepoint sy_{level}"),
            format!("release savepoint sy_{level}"),
        ]
    }
}

/// A write transaction (`Writes::begin`); committed through `Writes::commit`, rolled back when
/// dropped. On SQLite it holds the writers' turn ([`Turn`]) until then.
pub struct Tx {
    conn: Conn,
    /// Declared after `conn`, so dropped after it: a dropped transaction has queued its
    /// rollback before the next writer is let in.
    _turn: Option<Turn>,
}

impl Tx {
    pub(super) fn sqlite(tx: Transaction<'static, Sqlite>, turn: Turn) -> Tx {
        Tx {
            conn: Conn::new(Inner::SqliteTx(tx)),
            _turn: Some(turn),
        }
    }

    pub(super) fn postgres(tx: Transaction<'static, Postgres>) -> Tx {
        Tx {
            conn: Conn::new(Inner::PgTx(tx)),
            _turn: None,
        }
    }

    /// Commits the whole transaction. Writes commit through `db::Writes`, which then tells the
    /// feed; clippy refuses this method elsewhere.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        self.conn.raw().await?;
        match self.conn.inner {
            Inner::SqliteTx(tx) => {
                #[allow(clippy::disallowed_methods)] // the one place a transaction commits
                tx.commit().await
            }
            Inner::PgTx(tx) => {
                // Unanswered, the commit may or may not have happened: the caller is told the
                // database is unavailable, and the feed shows what it did once it answers.
                #[allow(clippy::disallowed_methods)] // the one place a transaction commits
                super::answered(tx.commit()).await
            }
            Inner::SqlitePooled(_) | Inner::PgPooled(_) => Ok(()),
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self.conn.inner {
            Inner::SqliteTx(tx) => tx.rollback().await,
            Inner::PgTx(tx) => super::answered(tx.rollback()).await,
            Inner::SqlitePooled(_) | Inner::PgPooled(_) => Ok(()),
        }
    }
}

/// A connection from the pool, for reads (and dry runs in a [`Savepoint`]).
pub struct Pooled(Conn);

impl Pooled {
    pub(super) fn sqlite(c: PoolConnection<Sqlite>) -> Pooled {
        Pooled(Conn::new(Inner::SqlitePooled(c)))
    }

    pub(super) fn postgres(c: PoolConnection<Postgres>) -> Pooled {
        Pooled(Conn::new(Inner::PgPooled(c)))
    }
}

impl Drop for Pooled {
    /// A connection left inside a transaction it opened must not go back to the pool.
    fn drop(&mut self) {
        if self.0.depth > 0 || !self.0.undo.is_empty() {
            match &mut self.0.inner {
                Inner::SqlitePooled(c) => c.close_on_drop(),
                Inner::PgPooled(c) => c.close_on_drop(),
                Inner::SqliteTx(_) | Inner::PgTx(_) => {}
            }
        }
    }
}

/// A savepoint: everything written through it is kept by [`Savepoint::commit`] (within the
/// enclosing transaction) and undone by [`Savepoint::rollback`] or a drop.
pub struct Savepoint<'c> {
    conn: &'c mut Conn,
    level: u32,
    done: bool,
}

impl Savepoint<'_> {
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let sql = if self.conn.opens_transaction(self.level) {
            "commit".to_string()
        } else {
            format!("release savepoint sy_{}", self.level)
        };
        self.finish(&[sql]).await
    }

    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        let sql = self.conn.rollback_sql(self.level);
        self.finish(&sql).await
    }

    async fn finish(&mut self, sql: &[String]) -> Result<(), sqlx::Error> {
        self.conn.raw().await?;
        for s in sql {
            self.conn.plain(s).await?;
        }
        self.done = true;
        self.conn.depth = self.level;
        Ok(())
    }
}

impl Drop for Savepoint<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.conn.depth = self.level;
            self.conn.undo.push(self.level);
        }
    }
}

macro_rules! deref_to_conn {
    ($($t:ty),*) => {$(
        impl Deref for $t {
            type Target = Conn;
            fn deref(&self) -> &Conn {
                &self.0
            }
        }
        impl DerefMut for $t {
            fn deref_mut(&mut self) -> &mut Conn {
                &mut self.0
            }
        }
    )*};
}
deref_to_conn!(Pooled);

impl Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

impl Deref for Savepoint<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl DerefMut for Savepoint<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn
    }
}
