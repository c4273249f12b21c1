//! The evidence the stale rules read: flags, environments, SDKs seen, evaluations, history.

use super::narrowed;
use crate::db::Conn;

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
