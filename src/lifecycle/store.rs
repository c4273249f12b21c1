//! SQL of the lifecycle: the evidence the stale rules read (batched per project), thresholds,
//! completions, snoozes, and the stored assessments the catalog and the feed read.

use super::stale::Thresholds;
use crate::db::{Conn, FromAnyRow, IntoArg};

/// One flag as the rules see it. `only` narrows every query to one flag.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FlagFacts {
    pub id: i64,
    pub key: String,
    pub flag_type: String,
    pub created_at: String,
    pub archived_at: Option<String>,
    pub lifetime_days: Option<i64>,
    pub permanent: bool,
    pub first_enabled_at: Option<String>,
    pub owner_email: Option<String>,
    pub owner_active: Option<bool>,
    pub owner_team: Option<String>,
    pub team_members: Option<i64>,
    pub completed_outcome: Option<String>,
    pub completed_variant: Option<String>,
    pub completed_note: Option<String>,
    pub completed_by: Option<String>,
    pub completed_at: Option<String>,
    pub snoozed_until: Option<String>,
    pub snooze_reason: Option<String>,
    pub snoozed_by: Option<String>,
}

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

pub async fn flags(
    conn: &mut Conn,
    project_id: i64,
    only: Option<i64>,
) -> Result<Vec<FlagFacts>, sqlx::Error> {
    narrowed(
        conn,
        "select f.id, f.key, f.flag_type, f.created_at, f.archived_at, f.lifetime_days, \
         f.permanent, f.first_enabled_at, u.email as owner_email, u.active as owner_active, \
         t.key as owner_team, \
         (select count(*) from team_members m where m.team_id = t.id) as team_members, \
         c.outcome as completed_outcome, c.variant as completed_variant, \
         c.note as completed_note, c.completed_by, c.completed_at, \
         s.until as snoozed_until, s.reason as snooze_reason, s.snoozed_by \
         from flags f left join users u on u.id = f.owner_user_id \
         left join teams t on t.id = f.owner_team_id \
         left join flag_completions c on c.flag_id = f.id \
         left join flag_snoozes s on s.flag_id = f.id \
         where f.project_id = ? {only} order by f.key",
        project_id,
        "f.id",
        only,
    )
    .await
}

/// One flag's state in one environment.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EnvFacts {
    pub flag_id: i64,
    pub environment: String,
    pub protected: bool,
    pub enabled: bool,
    pub strategies: String,
    pub variants: String,
    pub updated_at: String,
    /// Switched off by the emergency kill: still live (see `catalog::store::EnvState::stage_pair`).
    pub killed: bool,
}

pub async fn environments(
    conn: &mut Conn,
    project_id: i64,
    only: Option<i64>,
) -> Result<Vec<EnvFacts>, sqlx::Error> {
    narrowed(
        conn,
        "select fe.flag_id, e.key as environment, e.protected, fe.enabled, fe.strategies, \
         fe.variants, fe.updated_at, fe.killed from flag_environments fe \
         join environments e on e.id = fe.environment_id join flags f on f.id = fe.flag_id \
         where f.project_id = ? {only} order by fe.flag_id, e.sort_order",
        project_id,
        "f.id",
        only,
    )
    .await
}

/// When each app's SDKs of each environment first and last reported (registration or metrics).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SdkSeen {
    pub environment: String,
    pub app_name: String,
    pub first_seen: String,
    pub last_seen: String,
}

pub async fn sdks_seen(conn: &mut Conn, project_id: i64) -> Result<Vec<SdkSeen>, sqlx::Error> {
    crate::db::query_as(
        "select e.key as environment, a.app_name, min(a.first_seen) as first_seen, \
         max(a.last_seen) as last_seen from client_applications a \
         join environments e on e.id = a.environment_id where e.project_id = ? \
         group by e.key, a.app_name",
    )
    .bind(project_id)
    .fetch_all(conn)
    .await
}

/// The hour each flag was last evaluated in each environment.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LastEvaluation {
    pub flag_key: String,
    pub environment: String,
    pub hour: String,
}

pub async fn last_evaluations(
    conn: &mut Conn,
    project_id: i64,
    only: Option<&str>,
) -> Result<Vec<LastEvaluation>, sqlx::Error> {
    narrowed(
        conn,
        "select u.flag_key, e.key as environment, max(u.hour) as hour from usage_hourly u \
         join environments e on e.id = u.environment_id \
         where e.project_id = ? and u.yes + u.no > 0 {only} group by u.flag_key, e.key",
        project_id,
        "u.flag_key",
        only,
    )
    .await
}

#[derive(sqlx::FromRow)]
struct ThresholdRow {
    grace_days: i64,
    unused_days: i64,
    fully_rolled_out_days: i64,
    off_days: i64,
    retirement_quiet_days: i64,
}

/// The project's thresholds (the defaults until an owner sets them).
pub async fn thresholds(conn: &mut Conn, project_id: i64) -> Result<Thresholds, sqlx::Error> {
    let row: Option<ThresholdRow> = crate::db::query_as(
        "select grace_days, unused_days, fully_rolled_out_days, off_days, retirement_quiet_days \
         from project_lifecycle where project_id = ?",
    )
    .bind(project_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map_or_else(Thresholds::default, |r| Thresholds {
        grace_days: r.grace_days,
        unused_days: r.unused_days,
        fully_rolled_out_days: r.fully_rolled_out_days,
        off_days: r.off_days,
        retirement_quiet_days: r.retirement_quiet_days,
    }))
}

pub async fn set_thresholds(
    conn: &mut Conn,
    project_id: i64,
    t: &Thresholds,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "insert into project_lifecycle (project_id, grace_days, unused_days, \
         fully_rolled_out_days, off_days, retirement_quiet_days) values (?, ?, ?, ?, ?, ?) \
         on conflict (project_id) do update set grace_days = excluded.grace_days, \
         unused_days = excluded.unused_days, \
         fully_rolled_out_days = excluded.fully_rolled_out_days, off_days = excluded.off_days, \
         retirement_quiet_days = excluded.retirement_quiet_days",
    )
    .bind(project_id)
    .bind(t.grace_days)
    .bind(t.unused_days)
    .bind(t.fully_rolled_out_days)
    .bind(t.off_days)
    .bind(t.retirement_quiet_days)
    .execute(conn)
    .await?;
    Ok(())
}

/// An audited change that may move a flag's stage.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryRow {
    pub flag_key: String,
    pub at: String,
    pub action: String,
    pub environment: Option<String>,
    pub after: Option<String>,
}

/// What moved the stages of the project's flags (or of one), oldest first.
pub async fn history(
    conn: &mut Conn,
    project_key: &str,
    only: Option<&str>,
) -> Result<Vec<HistoryRow>, sqlx::Error> {
    narrowed(
        conn,
        "select flag_key, at, action, environment_key as environment, after_json as after \
         from audit_log where project_key = ? and flag_key is not null \
         {only} and action in ('flag.created', 'flag.imported', 'flag.enabled', \
         'flag.disabled', 'flag.killed', 'flag.archived', 'flag.revived', 'flag.completed', \
         'flag.reopened') order by seq",
        project_key,
        "flag_key",
        only,
    )
    .await
}

/// Records the first time a flag is switched on anywhere (later switches change nothing).
pub async fn mark_enabled(conn: &mut Conn, flag_id: i64, now: &str) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update flags set first_enabled_at = ? where id = ? and first_enabled_at is null",
    )
    .bind(now)
    .bind(flag_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_flag_lifecycle(
    conn: &mut Conn,
    flag_id: i64,
    lifetime_days: Option<i64>,
    permanent: bool,
) -> Result<(), sqlx::Error> {
    crate::db::query("update flags set lifetime_days = ?, permanent = ? where id = ?")
        .bind(lifetime_days)
        .bind(permanent)
        .bind(flag_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub struct Completion<'a> {
    pub outcome: &'a str,
    pub variant: Option<&'a str>,
    pub note: &'a str,
    pub by: &'a str,
    pub at: &'a str,
}

pub async fn complete(
    conn: &mut Conn,
    flag_id: i64,
    c: &Completion<'_>,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "insert into flag_completions (flag_id, outcome, variant, note, completed_by, \
         completed_at) values (?, ?, ?, ?, ?, ?) on conflict (flag_id) do update set \
         outcome = excluded.outcome, variant = excluded.variant, note = excluded.note, \
         completed_by = excluded.completed_by, completed_at = excluded.completed_at",
    )
    .bind(flag_id)
    .bind(c.outcome)
    .bind(c.variant)
    .bind(c.note)
    .bind(c.by)
    .bind(c.at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes the completion back; false when the flag was not completed.
pub async fn reopen(conn: &mut Conn, flag_id: i64) -> Result<bool, sqlx::Error> {
    let r = crate::db::query("delete from flag_completions where flag_id = ?")
        .bind(flag_id)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() > 0)
}

pub async fn snooze(
    conn: &mut Conn,
    flag_id: i64,
    until: &str,
    reason: &str,
    by: &str,
    at: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "insert into flag_snoozes (flag_id, until, reason, snoozed_by, snoozed_at) \
         values (?, ?, ?, ?, ?) on conflict (flag_id) do update set until = excluded.until, \
         reason = excluded.reason, snoozed_by = excluded.snoozed_by, \
         snoozed_at = excluded.snoozed_at",
    )
    .bind(flag_id)
    .bind(until)
    .bind(reason)
    .bind(by)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn unsnooze(conn: &mut Conn, flag_id: i64) -> Result<bool, sqlx::Error> {
    let r = crate::db::query("delete from flag_snoozes where flag_id = ?")
        .bind(flag_id)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() > 0)
}

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
