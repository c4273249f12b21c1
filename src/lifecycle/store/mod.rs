//! SQL of the lifecycle: the evidence the stale rules read (batched per project) in `evidence`,
//! thresholds in `thresholds`, completions, snoozes and other marks on a flag in `marks`, and
//! the stored assessments the catalog and the feed read in `assessments`.

mod assessments;
mod evidence;
mod marks;
mod thresholds;

pub use assessments::*;
pub use evidence::*;
pub use marks::*;
pub use thresholds::*;

use crate::db::{Conn, FromAnyRow, IntoArg};

/// The rows `sql` selects for `scope` (the project), narrowed to one flag when `only` names one:
/// `{only}` becomes `and {column} = ?` then, and nothing when all are asked for.
/// `(? is null or f.id = ?)` would keep SQLite from using an index for one flag, so a flag page
/// would scan the whole project's rows.
async fn narrowed<T: FromAnyRow>(
    conn: &mut Conn,
    sql: &str,
    scope: impl IntoArg,
    column: &str,
    only: Option<impl IntoArg>,
) -> Result<Vec<T>, sqlx::Error> {
    let clause = match only {
        Some(_) => format!("and {column} = ?"),
        None => String::new(),
    };
    let sql = sql.replace("{only}", &clause);
    let mut q = crate::db::query_as(&sql).bind(scope);
    if let Some(one) = only {
        q = q.bind(one);
    }
    q.fetch_all(conn).await
}
