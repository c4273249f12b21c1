//! A query built once and run on either database: the SQL text with its placeholders (`?`,
//! `?N` or `$N`) and the values bound to them, owned so that either driver can take them.
//! On PostgreSQL the placeholders are numbered `$N` (`?` means one more than the highest so
//! far, as in SQLite); on SQLite the text runs as written.
//!
//! The bound values are `args`, running a query on a connection or the pool is `run`, and the
//! placeholders PostgreSQL wants are written by `numbered`.

mod args;
mod numbered;
mod run;

pub use args::{Arg, IntoArg};
pub use numbered::numbered;
pub use run::{Done, Exec};

use futures_util::future::BoxFuture;
use run::{run_all, run_execute, run_optional};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, FromRow, Postgres, Sqlite, Type};

/// A row type decoded the same way from either database (a derived `FromRow` or a tuple).
pub trait FromAnyRow:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> FromAnyRow for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// A single column's type, decoded the same way from either database.
pub trait AnyScalar:
    for<'r> Decode<'r, Sqlite>
    + Type<Sqlite>
    + for<'r> Decode<'r, Postgres>
    + Type<Postgres>
    + Send
    + Unpin
{
}
impl<T> AnyScalar for T where
    T: for<'r> Decode<'r, Sqlite>
        + Type<Sqlite>
        + for<'r> Decode<'r, Postgres>
        + Type<Postgres>
        + Send
        + Unpin
{
}

/// SQL and its bound values.
pub struct Query<'q> {
    sql: &'q str,
    args: Vec<Arg>,
}

pub fn query(sql: &str) -> Query<'_> {
    Query {
        sql,
        args: Vec::new(),
    }
}

pub fn query_as<T: FromAnyRow>(sql: &str) -> QueryAs<'_, T> {
    QueryAs {
        q: query(sql),
        _row: std::marker::PhantomData,
    }
}

pub fn query_scalar<T: AnyScalar>(sql: &str) -> QueryScalar<'_, T> {
    QueryScalar {
        q: query(sql),
        _value: std::marker::PhantomData,
    }
}

impl<'q> Query<'q> {
    pub(crate) fn with_args(sql: &'q str, args: Vec<Arg>) -> Self {
        Query { sql, args }
    }

    pub fn bind(mut self, value: impl IntoArg) -> Self {
        self.args.push(value.into_arg());
        self
    }

    pub fn execute<'c>(self, on: impl Into<Exec<'c>>) -> BoxFuture<'c, Result<Done, sqlx::Error>>
    where
        'q: 'c,
    {
        run_execute(self.sql, self.args, on.into())
    }
}

/// A query whose rows decode into `T`.
pub struct QueryAs<'q, T> {
    q: Query<'q>,
    _row: std::marker::PhantomData<fn() -> T>,
}

impl<'q, T: FromAnyRow> QueryAs<'q, T> {
    pub(crate) fn from_query(q: Query<'q>) -> Self {
        QueryAs {
            q,
            _row: std::marker::PhantomData,
        }
    }

    pub fn bind(mut self, value: impl IntoArg) -> Self {
        self.q = self.q.bind(value);
        self
    }

    pub fn fetch_all<'c>(
        self,
        on: impl Into<Exec<'c>>,
    ) -> BoxFuture<'c, Result<Vec<T>, sqlx::Error>>
    where
        'q: 'c,
        T: 'c,
    {
        run_all(self.q.sql, self.q.args, on.into())
    }

    pub fn fetch_optional<'c>(
        self,
        on: impl Into<Exec<'c>>,
    ) -> BoxFuture<'c, Result<Option<T>, sqlx::Error>>
    where
        'q: 'c,
        T: 'c,
    {
        run_optional(self.q.sql, self.q.args, on.into())
    }

    pub fn fetch_one<'c>(self, on: impl Into<Exec<'c>>) -> BoxFuture<'c, Result<T, sqlx::Error>>
    where
        'q: 'c,
        T: 'c,
    {
        let row = self.fetch_optional(on);
        Box::pin(async move { row.await?.ok_or(sqlx::Error::RowNotFound) })
    }
}

/// A query whose first column decodes into `T`.
pub struct QueryScalar<'q, T> {
    q: Query<'q>,
    _value: std::marker::PhantomData<fn() -> T>,
}

impl<'q, T: AnyScalar> QueryScalar<'q, T> {
    pub(crate) fn from_query(q: Query<'q>) -> Self {
        QueryScalar {
            q,
            _value: std::marker::PhantomData,
        }
    }

    pub fn bind(mut self, value: impl IntoArg) -> Self {
        self.q = self.q.bind(value);
        self
    }

    pub fn fetch_all<'c>(
        self,
        on: impl Into<Exec<'c>>,
    ) -> BoxFuture<'c, Result<Vec<T>, sqlx::Error>>
    where
        'q: 'c,
        T: 'c,
    {
        let rows = run_all::<(T,)>(self.q.sql, self.q.args, on.into());
        Box::pin(async move { Ok(rows.await?.into_iter().map(|(v,)| v).collect()) })
    }

    pub fn fetch_optional<'c>(
        self,
        on: impl Into<Exec<'c>>,
    ) -> BoxFuture<'c, Result<Option<T>, sqlx::Error>>
    where
        'q: 'c,
        T: 'c,
    {
        let row = run_optional::<(T,)>(self.q.sql, self.q.args, on.into());
        Box::pin(async move { Ok(row.await?.map(|(v,)| v)) })
    }

    pub fn fetch_one<'c>(self, on: impl Into<Exec<'c>>) -> BoxFuture<'c, Result<T, sqlx::Error>>
    where
        'q: 'c,
        T: 'c,
    {
        let row = self.fetch_optional(on);
        Box::pin(async move { row.await?.ok_or(sqlx::Error::RowNotFound) })
    }
}
