//! A query built once and run on either database: the SQL text with its placeholders (`?`,
//! `?N` or `$N`) and the values bound to them, owned so that either driver can take them.
//! On PostgreSQL the placeholders are numbered `$N` (`?` means one more than the highest so
//! far, as in SQLite); on SQLite the text runs as written.

use super::conn::{Conn, Pooled, Raw, Savepoint, Tx};
use super::Db;
use futures_util::future::BoxFuture;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Arguments, Decode, FromRow, Postgres, Sqlite, Type};

/// One bound value. A null keeps its type: PostgreSQL types every parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    I64(i64),
    F64(f64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
    NullI64,
    NullF64,
    NullBool,
    NullText,
    NullBytes,
}

/// A value that can be bound to a query on either database.
pub trait IntoArg {
    fn into_arg(self) -> Arg;
    /// The null of this type, for `None`.
    fn null() -> Arg
    where
        Self: Sized;
}

macro_rules! into_arg {
    ($($t:ty => $variant:ident($conv:expr), $null:ident;)*) => {$(
        impl IntoArg for $t {
            fn into_arg(self) -> Arg {
                #[allow(clippy::redundant_closure_call)]
                Arg::$variant(($conv)(self))
            }
            fn null() -> Arg {
                Arg::$null
            }
        }
    )*};
}

into_arg! {
    i64 => I64(|v| v), NullI64;
    &i64 => I64(|v: &i64| *v), NullI64;
    i32 => I64(i64::from), NullI64;
    u32 => I64(i64::from), NullI64;
    u16 => I64(i64::from), NullI64;
    u8 => I64(i64::from), NullI64;
    f64 => F64(|v| v), NullF64;
    f32 => F64(f64::from), NullF64;
    bool => Bool(|v| v), NullBool;
    &bool => Bool(|v: &bool| *v), NullBool;
    String => Text(|v| v), NullText;
    &String => Text(|v: &String| v.clone()), NullText;
    &str => Text(|v: &str| v.to_string()), NullText;
    &&str => Text(|v: &&str| v.to_string()), NullText;
    Vec<u8> => Bytes(|v| v), NullBytes;
    &Vec<u8> => Bytes(|v: &Vec<u8>| v.clone()), NullBytes;
    &[u8] => Bytes(|v: &[u8]| v.to_vec()), NullBytes;
}

impl<T: IntoArg> IntoArg for Option<T> {
    fn into_arg(self) -> Arg {
        match self {
            Some(v) => v.into_arg(),
            None => T::null(),
        }
    }
    fn null() -> Arg {
        T::null()
    }
}

impl<T: IntoArg + Clone> IntoArg for &Option<T> {
    fn into_arg(self) -> Arg {
        self.clone().into_arg()
    }
    fn null() -> Arg {
        T::null()
    }
}

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

fn run_execute<'a>(
    sql: &'a str,
    args: Vec<Arg>,
    on: Exec<'a>,
) -> BoxFuture<'a, Result<Done, sqlx::Error>> {
    Box::pin(async move {
        let mut pooled;
        let conn = connection!(on, pooled);
        let rows = match conn.raw().await? {
            Raw::Sqlite(c) => sqlite_execute(c, sql, sqlite_args(args)?).await?,
            Raw::Postgres(c) => pg_execute(c, numbered(sql), pg_args(args)?).await?,
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

fn run_all<'a, T: FromAnyRow + 'a>(
    sql: &'a str,
    args: Vec<Arg>,
    on: Exec<'a>,
) -> BoxFuture<'a, Result<Vec<T>, sqlx::Error>> {
    Box::pin(async move {
        let mut pooled;
        let conn = connection!(on, pooled);
        match conn.raw().await? {
            Raw::Sqlite(c) => sqlite_all(c, sql, sqlite_args(args)?).await,
            Raw::Postgres(c) => pg_all(c, numbered(sql), pg_args(args)?).await,
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

fn run_optional<'a, T: FromAnyRow + 'a>(
    sql: &'a str,
    args: Vec<Arg>,
    on: Exec<'a>,
) -> BoxFuture<'a, Result<Option<T>, sqlx::Error>> {
    Box::pin(async move {
        let mut pooled;
        let conn = connection!(on, pooled);
        match conn.raw().await? {
            Raw::Sqlite(c) => sqlite_optional(c, sql, sqlite_args(args)?).await,
            Raw::Postgres(c) => pg_optional(c, numbered(sql), pg_args(args)?).await,
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

fn sqlite_args<'q>(args: Vec<Arg>) -> Result<SqliteArguments<'q>, sqlx::Error> {
    let mut out = SqliteArguments::default();
    for a in args {
        match a {
            Arg::I64(v) => out.add(v),
            Arg::F64(v) => out.add(v),
            Arg::Bool(v) => out.add(v),
            Arg::Text(v) => out.add(v),
            Arg::Bytes(v) => out.add(v),
            Arg::NullI64 => out.add(None::<i64>),
            Arg::NullF64 => out.add(None::<f64>),
            Arg::NullBool => out.add(None::<bool>),
            Arg::NullText => out.add(None::<String>),
            Arg::NullBytes => out.add(None::<Vec<u8>>),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(out)
}

fn pg_args(args: Vec<Arg>) -> Result<PgArguments, sqlx::Error> {
    let mut out = PgArguments::default();
    for a in args {
        match a {
            Arg::I64(v) => out.add(v),
            Arg::F64(v) => out.add(v),
            Arg::Bool(v) => out.add(v),
            Arg::Text(v) => out.add(v),
            Arg::Bytes(v) => out.add(v),
            Arg::NullI64 => out.add(None::<i64>),
            Arg::NullF64 => out.add(None::<f64>),
            Arg::NullBool => out.add(None::<bool>),
            Arg::NullText => out.add(None::<String>),
            Arg::NullBytes => out.add(None::<Vec<u8>>),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(out)
}

/// The SQL with every placeholder written `$N`, as PostgreSQL wants it. A bare `?` is one more
/// than the highest number so far (SQLite's rule); quoted text and comments are left alone.
pub fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut highest = 0u32;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for q in chars.by_ref() {
                    out.push(q);
                    if q == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for q in chars.by_ref() {
                    out.push(q);
                    if q == '\n' {
                        break;
                    }
                }
            }
            '?' | '$' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                let n = match digits.parse::<u32>() {
                    Ok(n) => n,
                    Err(_) if c == '?' => highest + 1,
                    Err(_) => {
                        out.push(c);
                        continue;
                    }
                };
                highest = highest.max(n);
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::numbered;

    #[test]
    fn placeholders_are_numbered_for_postgres() {
        assert_eq!(
            numbered("select a from t where a = ? and b = ? or c = ?2"),
            "select a from t where a = $1 and b = $2 or c = $2"
        );
        assert_eq!(
            numbered("where x = ?3 and y = ?"),
            "where x = $3 and y = $4"
        );
        assert_eq!(
            numbered("where x = $1 and y = '?'"),
            "where x = $1 and y = '?'"
        );
        assert_eq!(numbered("-- what?\nselect ?"), "-- what?\nselect $1");
    }
}
