//! Stored assessments: what a pass keeps, saving them, and the stale keys and reasons read back.

use super::narrowed;
use crate::db::Conn;

/// One flag's stored assessment.
pub struct Stored<'a> {
    pub flag_id: i64,
    pub stage: &'a str,
    pub stage_entered_at: &'a str,
    pub stale: bool,
    pub codes: Vec<&'static str>,
    pub reasons: String,
}

/// An assessment as stored, to tell which of a new pass's results differ from it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Kept {
    pub flag_id: i64,
    pub stage: String,
    pub stage_entered_at: String,
    pub stale: bool,
    pub reasons: String,
}

/// The stored assessments of a project's flags, or of one of them.
pub async fn kept(
    conn: &mut Conn,
    project_id: i64,
    flag_id: Option<i64>,
) -> Result<Vec<Kept>, sqlx::Error> {
    narrowed(
        conn,
        "select flag_id, stage, stage_entered_at, stale, reasons from flag_assessments \
         where project_id = ? {only}",
        project_id,
        "flag_id",
        flag_id,
    )
    .await
}

impl Stored<'_> {
    /// Whether writing it would change nothing that is read.
    pub fn same_as(&self, kept: &Kept) -> bool {
        self.stage == kept.stage
            && self.stage_entered_at == kept.stage_entered_at
            && self.stale == kept.stale
            && self.reasons == kept.reasons
    }
}

pub async fn save(
    conn: &mut Conn,
    project_id: i64,
    a: &Stored<'_>,
    now: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "insert into flag_assessments (flag_id, project_id, stage, stage_entered_at, stale, \
         reasons, assessed_at) values (?, ?, ?, ?, ?, ?, ?) on conflict (flag_id) do update set \
         stage = excluded.stage, stage_entered_at = excluded.stage_entered_at, \
         stale = excluded.stale, reasons = excluded.reasons, assessed_at = excluded.assessed_at",
    )
    .bind(a.flag_id)
    .bind(project_id)
    .bind(a.stage)
    .bind(a.stage_entered_at)
    .bind(a.stale)
    .bind(&a.reasons)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    crate::db::query("delete from flag_stale_codes where flag_id = ?")
        .bind(a.flag_id)
        .execute(&mut *conn)
        .await?;
    if a.stale {
        for code in &a.codes {
            crate::db::query("insert into flag_stale_codes (flag_id, code) values (?, ?)")
                .bind(a.flag_id)
                .bind(code)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// The keys of the project's flags stored as stale, for the feed's `stale` field.
pub async fn stale_keys(conn: &mut Conn, project_id: i64) -> Result<Vec<String>, sqlx::Error> {
    crate::db::query_scalar(
        "select f.key from flag_assessments a join flags f on f.id = a.flag_id \
         where a.project_id = ? and a.stale",
    )
    .bind(project_id)
    .fetch_all(conn)
    .await
}

/// The stored stale reasons (with evidence) of the flags among `ids` that are stale, by id.
pub async fn stale_reasons_of(
    conn: &mut Conn,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, serde_json::Value>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let mut q: crate::db::QueryBuilder = crate::db::QueryBuilder::new(
        "select flag_id, reasons from flag_assessments where stale and flag_id in (",
    );
    let mut sep = q.separated(", ");
    for id in ids {
        sep.push_bind(*id);
    }
    q.push(")");
    let rows: Vec<(i64, String)> = q.build_query_as().fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|(id, json)| (id, serde_json::from_str(&json).unwrap_or_default()))
        .collect())
}
