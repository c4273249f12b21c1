//! The emergency kill switch: the one way around review, leaving a record that somebody else
//! acknowledges.

use super::store::{self};
use crate::audit::{self, NewEntry};
use crate::authz::{Action, Identity};
use crate::catalog::service::{self as catalog};
use crate::clock::stamp;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::notify::{self};
use crate::projects::{Environment, Project};
use crate::targeting::service::{self as targeting};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KillView {
    pub id: i64,
    pub flag: String,
    pub environment: String,
    pub reason: String,
    pub killed_by: String,
    /// Who killed it, for "is this mine" (the label is for people to read).
    #[serde(skip)]
    pub killed_by_id: Option<i64>,
    pub killed_at: String,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<String>,
    pub acknowledgement: Option<String>,
}

impl KillView {
    /// What acknowledging this kill asks of `who`: somebody else than the one who killed.
    pub fn acknowledge_action(&self, who: &Identity) -> Action {
        Action::AcknowledgeKill {
            own: self.killed_by_id == Some(who.user.id),
        }
    }
}

impl From<store::KillRow> for KillView {
    fn from(k: store::KillRow) -> Self {
        KillView {
            id: k.id,
            flag: k.flag_key,
            environment: k.environment_key,
            reason: k.reason,
            killed_by: k.killed_by,
            killed_by_id: k.killed_by_id,
            killed_at: k.killed_at,
            acknowledged_by: k.acknowledged_by,
            acknowledged_at: k.acknowledged_at,
            acknowledgement: k.acknowledgement,
        }
    }
}

/// Switches a flag off at once, even in a protected environment: rollback never waits for a
/// review. Audited as `flag.killed` with the reason; leaves a record an approver acknowledges.
/// The caller asked the policy for `Action::KillSwitch` in that environment.
pub async fn kill(
    conn: &mut Conn,
    who: &Identity,
    project: &Project,
    flag_key: &str,
    env: &Environment,
    reason: &str,
    now: DateTime<Utc>,
) -> AppResult<KillView> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(AppError::invalid(
            "reason",
            "say why the flag is killed, in at most 2000 characters",
        ));
    }
    let was_on = switch_off_at_once(&mut *conn, project, flag_key, env, now).await?;
    if was_on {
        // A kill is an emergency stop, not a retreat: the lifecycle stage stays where it was.
        let flag = catalog::live_flag(&mut *conn, project, flag_key).await?;
        crate::catalog::store::mark_killed(&mut *conn, flag.id, env.id).await?;
    }
    let user = &who.user;
    let new = store::NewKill {
        project_id: project.id,
        environment_id: env.id,
        flag_key,
        reason,
        killed_by: (Some(user.id), &user.email),
    };
    let id = store::insert_kill(&mut *conn, &new, &stamp(now)).await?;
    audit::append(
        &mut *conn,
        &who.actor,
        NewEntry::new(
            audit::Action::FlagKilled,
            format!("flag {}/{} in {}", project.key, flag_key, env.key),
        )
        .project(&project.key)
        .flag(flag_key)
        .environment(&env.key)
        .before(json!({ "enabled": was_on }))
        .after(json!({ "enabled": false, "emergency": true, "kill": id }))
        .reason(Some(reason)),
        now,
    )
    .await?;
    notify::killed(
        &mut *conn, project, flag_key, &env.key, &who.actor, reason, now,
    )
    .await?;
    let row = store::kill_by_id(&mut *conn, project.id, id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("kill #{id} vanished")))?;
    Ok(row.into())
}

/// Switches the flag off at once, without review and whatever the environment's protection:
/// the emergency path the kill switch and a release plan's automatic rollback share. The caller
/// audits it. Returns whether the flag was on.
pub async fn switch_off_at_once(
    conn: &mut Conn,
    project: &Project,
    flag_key: &str,
    env: &Environment,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    let flag = catalog::live_flag(&mut *conn, project, flag_key).await?;
    let t = targeting::targeting(&mut *conn, project, flag_key, env).await?;
    if t.enabled {
        crate::catalog::store::set_enabled(&mut *conn, flag.id, env.id, false, now).await?;
    }
    Ok(t.enabled)
}

pub async fn kills(
    conn: &mut Conn,
    project: &Project,
    open_only: bool,
) -> AppResult<Vec<KillView>> {
    Ok(store::kills_of(conn, project.id, open_only)
        .await?
        .into_iter()
        .map(KillView::from)
        .collect())
}

/// The kills of one flag still waiting for an acknowledgement (the banner on its page).
pub async fn open_kills_of_flag(
    conn: &mut Conn,
    project: &Project,
    flag_key: &str,
) -> AppResult<Vec<KillView>> {
    Ok(store::open_kills_of_flag(conn, project.id, flag_key)
        .await?
        .into_iter()
        .map(KillView::from)
        .collect())
}

/// One emergency kill of the project, to acknowledge.
pub async fn kill_of(conn: &mut Conn, project: &Project, id: i64) -> AppResult<KillView> {
    store::kill_by_id(&mut *conn, project.id, id)
        .await?
        .map(KillView::from)
        .ok_or_else(|| {
            AppError::not_found(format!(
                "there is no emergency kill #{id} in {}",
                project.key
            ))
        })
}

/// An approver (not the one who killed) signs off an emergency kill, once, with a note saying
/// what was done about it (required: the sign-off is the record that somebody looked). The
/// caller asked the policy for [`KillView::acknowledge_action`].
pub async fn acknowledge_kill(
    conn: &mut Conn,
    who: &Identity,
    project: &Project,
    k: KillView,
    note: &str,
    now: DateTime<Utc>,
) -> AppResult<KillView> {
    let id = k.id;
    let note = note.trim();
    if note.is_empty() || note.chars().count() > 2000 {
        return Err(AppError::invalid(
            "note",
            "say what was done about the kill (or why it can stay off), in at most 2000 characters",
        ));
    }
    let user = &who.user;
    if !store::acknowledge_kill(&mut *conn, id, &user.email, note, &stamp(now)).await? {
        return Err(AppError::conflict(
            "kill-acknowledged",
            format!(
                "the emergency kill #{id} was already acknowledged by {}",
                k.acknowledged_by.unwrap_or_default()
            ),
        ));
    }
    audit::append(
        &mut *conn,
        &who.actor,
        NewEntry::new(
            audit::Action::FlagKillAcknowledged,
            format!("flag {}/{} in {}", project.key, k.flag, k.environment),
        )
        .project(&project.key)
        .flag(&k.flag)
        .environment(&k.environment)
        .after(json!({
            "kill": id,
            "killedBy": k.killed_by,
            "killedAt": k.killed_at,
            "killReason": k.reason,
            "note": note,
        }))
        .reason(Some(note)),
        now,
    )
    .await?;
    let row = store::kill_by_id(&mut *conn, project.id, id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("kill #{id} vanished")))?;
    Ok(row.into())
}
