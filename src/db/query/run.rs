//! Running a query: where it runs (a connection or the pool), and the call into each driver.

use super::args::{arguments, Arg};
use super::numbered::numbered;
use super::FromAnyRow;
use crate::db::conn::{Conn, Pooled, Raw, Savepoint, Tx};
use crate::db::{answered, Db};
use futures_util::future::BoxFuture;
use sqlx::postgres::PgArguments;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Postgres, Sqlite};

/// What an `execute` did.
#[derive(Debug, Clone, Copy)]
pub struct Done {
    rows: u64,
}

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.rows
    }
}

/// Where a query runs: a connection (in a transaction or not) or the pool.
pub enum Exec<'c> {
    Conn(&'c mut Conn),
    Db(&'c Db),
}

impl<'c> From<&'c mut Conn> for Exec<'c> {
    fn from(c: &'c mut Conn) -> Self {
        Exec::Conn(c)
    }
}
impl<'c, 'x> From<&'c mut &'x mut Conn> for Exec<'c> {
    fn from(c: &'c mut &'x mut Conn) -> Self {
        Exec::Conn(c)
    }
}
impl<'c> From<&'c mut Tx> for Exec<'c> {
    fn from(c: &'c mut Tx) -> Self {
        Exec::Conn(c)
    }
}
impl<'c> From<&'c mut Pooled> for Exec<'c> {
    fn from(c: &'c mut Pooled) -> Self {
        Exec::Conn(c)
    }
}
impl<'c, 's> From<&'c mut Savepoint<'s>> for Exec<'c> {
    fn from(c: &'c mut Savepoint<'s>) -> Self {
        Exec::Conn(c)
    }
}
impl<'c> From<&'c Db> for Exec<'c> {
    fn from(db: &'c Db) -> Self {
        Exec::Db(db)
    }
}

/// The connection a statement runs on: the caller's own, or one taken from the pool for just
/// this statement and kept alive in `$pooled` (declared by the caller, so it outlives the borrow).
macro_rules! connection {
    ($on:expr, $pooled:ident) => {
        match $on {
            Exec::Conn(c) => c,
            Exec::Db(db) => {
                $pooled = db.acquire().await?;
                &mut *$pooled
            }
        }
    };
}

// The futures are boxed where every lifetime has a name: the compiler then proves them `Send`
// here, once, instead of failing to in each handler (sqlx's executors are generic over
// higher-ranked lifetimes that async handlers cannot prove `Send` for).

pub(super) fn run_execute<'a>(
    sql: &'a str,
    args: Vec<Arg>,
    on: Exec<'a>,
) -> BoxFuture<'a, Result<Done, sqlx::Error>> {
    Box::pin(async move {
        let mut pooled;
        let conn = connection!(on, pooled);
        let rows = match conn.raw().await? {
            Raw::Sqlite(c) => sqlite_execute(c, sql, arguments(args)?).await?,
            Raw::Postgres(c) => answered(pg_execute(c, numbered(sql), arguments(args)?)).await?,
        };
        Ok(Done { rows })
    })
}

fn sqlite_execute<'a>(
    c: &'a mut sqlx::SqliteConnection,
    sql: &'a str,
    args: SqliteArguments<'a>,
) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
    Box::pin(async move {
        Ok(sqlx::query_with(sql, args)
            .execute(c)
            .await?
            .rows_affected())
    })
}

fn pg_execute(
    c: &mut sqlx::PgConnection,
    sql: String,
    args: PgArguments,
) -> BoxFuture<'_, Result<u64, sqlx::Error>> {
    Box::pin(async move {
        Ok(sqlx::query_with(&sql, args)
            .execute(c)
            .await?
            .rows_affected())
    })
}

pub(super) fn run_all<'a, T: FromAnyRow + 'a>(
    sql: &'a str,
    args: Vec<Arg>,
    on: Exec<'a>,
) -> BoxFuture<'a, Result<Vec<T>, sqlx::Error>> {
    Box::pin(async move {
        let mut pooled;
        let conn = connection!(on, pooled);
        match conn.raw().await? {
            Raw::Sqlite(c) => sqlite_all(c, sql, arguments(args)?).await,
            Raw::Postgres(c) => answered(pg_all(c, numbered(sql), arguments(args)?)).await,
        }
    })
}

fn sqlite_all<'a, T: FromAnyRow + 'a>(
    c: &'a mut sqlx::SqliteConnection,
    sql: &'a str,
    args: SqliteArguments<'a>,
) -> BoxFuture<'a, Result<Vec<T>, sqlx::Error>> {
    Box::pin(sqlx::query_as_with::<Sqlite, T, _>(sql, args).fetch_all(c))
}

fn pg_all<'a, T: FromAnyRow + 'a>(
    c: &'a mut sqlx::PgConnection,
    sql: String,
    args: PgArguments,
) -> BoxFuture<'a, Result<Vec<T>, sqlx::Error>> {
    Box::pin(async move {
        sqlx::query_as_with::<Postgres, T, _>(&sql, args)
            .fetch_all(c)
            .await
    })
}

pub(super) fn run_optional<'a, T: FromAnyRow + 'a>(
    sql: &'a str,
    args: Vec<Arg>,
    on: Exec<'a>,
) -> BoxFuture<'a, Result<Option<T>, sqlx::Error>> {
    Box::pin(async move {
        let mut pooled;
        let conn = connection!(on, pooled);
        match conn.raw().await? {
            Raw::Sqlite(c) => sqlite_optional(c, sql, arguments(args)?).await,
            Raw::Postgres(c) => answered(pg_optional(c, numbered(sql), arguments(args)?)).await,
        }
    })
}

fn sqlite_optional<'a, T: FromAnyRow + 'a>(
    c: &'a mut sqlx::SqliteConnection,
    sql: &'a str,
    args: SqliteArguments<'a>,
) -> BoxFuture<'a, Result<Option<T>, sqlx::Error>> {
    Box::pin(sqlx::query_as_with::<Sqlite, T, _>(sql, args).fetch_optional(c))
}

fn pg_optional<'a, T: FromAnyRow + 'a>(
    c: &'a mut sqlx::PgConnection,
    sql: String,
    args: PgArguments,
) -> BoxFuture<'a, Result<Option<T>, sqlx::Error>> {
    Box::pin(async move {
        sqlx::query_as_with::<Postgres, T, _>(&sql, args)
            .fetch_optional(c)
            .await
    })
}
