//! SQL put together piece by piece (lists of ids, optional filters), its values bound as it
//! goes: the query layer's counterpart of sqlx's `QueryBuilder`, for either database.

use super::query::{AnyScalar, Arg, FromAnyRow, IntoArg, Query, QueryAs, QueryScalar};
use std::fmt::Display;

#[derive(Default)]
pub struct QueryBuilder {
    sql: String,
    args: Vec<Arg>,
}

impl QueryBuilder {
    pub fn new(init: impl Into<String>) -> Self {
        QueryBuilder {
            sql: init.into(),
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, sql: impl Display) -> &mut Self {
        use std::fmt::Write;
        let _ = write!(self.sql, "{sql}");
        self
    }

    /// Binds a value: its placeholder goes in the SQL, the value beside it.
    pub fn push_bind(&mut self, value: impl IntoArg) -> &mut Self {
        self.args.push(value.into_arg());
        self.sql.push('?');
        self
    }

    /// Pieces pushed through the result are separated by `separator`.
    pub fn separated<'b>(&'b mut self, separator: &'b str) -> Separated<'b> {
        Separated {
            builder: self,
            separator,
            first: true,
        }
    }

    /// `values (…), (…)`: one parenthesised tuple per item, filled in by `each`.
    pub fn push_values<I, F>(&mut self, items: I, mut each: F) -> &mut Self
    where
        I: IntoIterator,
        F: FnMut(Separated<'_>, I::Item),
    {
        self.push("values ");
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push("(");
            each(self.separated(", "), item);
            self.push(")");
        }
        self
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn build(&self) -> Query<'_> {
        Query::with_args(&self.sql, self.args.clone())
    }

    pub fn build_query_as<T: FromAnyRow>(&self) -> QueryAs<'_, T> {
        QueryAs::from_query(self.build())
    }

    pub fn build_query_scalar<T: AnyScalar>(&self) -> QueryScalar<'_, T> {
        QueryScalar::from_query(self.build())
    }
}

/// Pieces of a list, the separator between each two.
pub struct Separated<'b> {
    builder: &'b mut QueryBuilder,
    separator: &'b str,
    first: bool,
}

impl Separated<'_> {
    fn separate(&mut self) {
        if !self.first {
            self.builder.sql.push_str(self.separator);
        }
        self.first = false;
    }

    pub fn push(&mut self, sql: impl Display) -> &mut Self {
        self.separate();
        self.builder.push(sql);
        self
    }

    pub fn push_bind(&mut self, value: impl IntoArg) -> &mut Self {
        self.separate();
        self.builder.push_bind(value);
        self
    }

    pub fn push_unseparated(&mut self, sql: impl Display) -> &mut Self {
        self.builder.push(sql);
        self
    }

    pub fn push_bind_unseparated(&mut self, value: impl IntoArg) -> &mut Self {
        self.builder.push_bind(value);
        self
    }
}
