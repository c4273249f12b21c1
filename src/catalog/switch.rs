//! Switching a flag on or off in one environment, audited (archiving and reviving are in
//! `archive`).

use super::service::live_flag;
use super::store;
use crate::audit::{self, Actor, NewEntry};
use crate::db::Conn;
use crate::error::AppResult;
use crate::projects::{Environment, Project};
use chrono::{DateTime, Utc};

/// One environment's on/off change, with the reason given for it.
pub struct Switch<'a> {
    pub env: &'a Environment,
    pub on: bool,
    pub reason: Option<&'a str>,
}

/// Switches the flag on or off in one environment. Returns false when it already was.
pub async fn set_enabled(
    conn: &mut Conn,
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
