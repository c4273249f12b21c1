//! Switching a flag on or off in one environment, and archiving or reviving it (an archived flag
//! is off everywhere), audited.

use super::service::{detail, flag_not_found, live_flag, FlagDetail};
use super::store::{self, FlagRow};
use crate::audit::{self, Actor, NewEntry};
use crate::error::{AppError, AppResult};
use crate::projects::{Environment, Project};
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

/// One environment's on/off change, with the reason given for it.
pub struct Switch<'a> {
    pub env: &'a Environment,
    pub on: bool,
    pub reason: Option<&'a str>,
}

/// Switches the flag on or off in one environment. Returns false when it already was.
pub async fn set_enabled(
    conn: &mut SqliteConnection,
    actor: &Actor,
    project: &Project,
    key: &str,
    switch: Switch<'_>,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    let Switch { env, on, reason } = switch;
    let flag = live_flag(&mut *conn, project, key).await?;
    let current = store::enabled_in(&mut *conn, flag.id, env.id).await?;
    if current == on {
        return Ok(false);
    }
    store::set_enabled(&mut *conn, flag.id, env.id, on, now).await?;
    if on {
        crate::lifecycle::store::mark_enabled(&mut *conn, flag.id, &crate::clock::stamp(now))
            .await?;
    }
    let action = if on {
        audit::Action::FlagEnabled
    } else {
        audit::Action::FlagDisabled
    };
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(
            action,
            format!("flag {}/{} in {}", project.key, key, env.key),
        )
        .project(&project.key)
        .flag(key)
        .environment(&env.key)
        .before(serde_json::json!({ "enabled": current }))
        .after(serde_json::json!({ "enabled": on }))
        .reason(reason),
        now,
    )
    .await?;
    Ok(true)
}

pub async fn set_archived(
    conn: &mut SqliteConnection,
    actor: &Actor,
    project: &Project,
    key: &str,
    archive: bool,
    now: DateTime<Utc>,
) -> AppResult<FlagDetail> {
    let Some(flag) = store::flag_by_key(&mut *conn, project.id, key).await? else {
        return Err(flag_not_found(project, key));
    };
    if flag.archived_at.is_some() == archive {
        let state = if archive { "archived" } else { "active" };
        return Err(AppError::conflict(
            if archive {
                "flag-already-archived"
            } else {
                "flag-not-archived"
            },
            format!("the flag {key} is already {state}"),
        ));
    }
    store::set_archived(&mut *conn, flag.id, archive, now).await?;
    let action = if archive {
        audit::Action::FlagArchived
    } else {
        audit::Action::FlagRevived
    };
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(action, format!("flag {}/{}", project.key, key))
            .project(&project.key)
            .flag(key)
            .before(serde_json::json!({ "archived": !archive }))
            .after(serde_json::json!({ "archived": archive })),
        now,
    )
    .await?;
    if !archive {
        switch_off_everywhere(&mut *conn, actor, project, &flag, now).await?;
    }
    detail(&mut *conn, project, key, now).await
}

/// A revived flag comes back switched off in every environment, as in Unleash: reviving must
/// not make a flag live again anywhere, least of all in a protected environment, without review.
/// Each switch turned off is audited like any other.
async fn switch_off_everywhere(
    conn: &mut SqliteConnection,
    actor: &Actor,
    project: &Project,
    flag: &FlagRow,
    now: DateTime<Utc>,
) -> AppResult<()> {
    for env in store::env_states(&mut *conn, &[flag.id]).await? {
        if !env.enabled {
            continue;
        }
        store::set_enabled(&mut *conn, flag.id, env.environment_id, false, now).await?;
        let entry = NewEntry::new(
            audit::Action::FlagDisabled,
            format!("flag {}/{} in {}", project.key, flag.key, env.env_key),
        )
        .project(&project.key)
        .flag(&flag.key)
        .environment(&env.env_key)
        .before(serde_json::json!({ "enabled": true }))
        .after(serde_json::json!({ "enabled": false }))
        .reason(Some("revived flags come back off in every environment"));
        audit::append(&mut *conn, actor, entry, now).await?;
    }
    Ok(())
}
