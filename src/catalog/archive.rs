//! Retiring a flag and bringing it back. Archiving records why (the outcome and a reason) in its
//! audit entry, and is refused while active flags depend on the flag: archiving it would silently
//! change what they serve (a missing parent fails every dependency). Reviving brings the flag
//! back switched off everywhere.

use super::service::{detail, flag_not_found, FlagDetail};
use super::store::{self, FlagRow};
use crate::audit::{self, Actor, NewEntry};
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::projects::Project;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a flag is archived, as the API body (`{"outcome"?, "reason"?}`) and the form send it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArchiveNote {
    /// `kept` (released and kept) or `discarded`, as when a flag is marked completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ArchiveNote {
    /// Trimmed, empty fields dropped; a bad outcome or an overlong reason is refused.
    pub fn checked(&self) -> AppResult<ArchiveNote> {
        let clean = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let (outcome, reason) = (clean(&self.outcome), clean(&self.reason));
        if outcome
            .as_deref()
            .is_some_and(|o| !matches!(o, "kept" | "discarded"))
        {
            return Err(AppError::invalid(
                "outcome",
                "choose kept (released and kept) or discarded, or leave it out",
            ));
        }
        if reason.as_deref().is_some_and(|r| r.chars().count() > 500) {
            return Err(AppError::invalid(
                "reason",
                "keep the reason under 500 characters",
            ));
        }
        Ok(ArchiveNote { outcome, reason })
    }
}

/// Refuses while active flags depend on `key`, naming them.
pub async fn refuse_if_depended_on(conn: &mut Conn, project: &Project, key: &str) -> AppResult<()> {
    let dependents = store::active_dependents(conn, project.id, key).await?;
    if dependents.is_empty() {
        return Ok(());
    }
    Err(AppError::conflict(
        "flag-has-dependents",
        format!(
            "{key} cannot be archived while active flags depend on it: {}. Remove their \
             dependency on {key}, or archive them first",
            dependents.join(", ")
        ),
    ))
}

pub async fn archive(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    key: &str,
    note: &ArchiveNote,
    now: DateTime<Utc>,
) -> AppResult<FlagDetail> {
    let note = note.checked()?;
    let flag = flag_in_state(&mut *conn, project, key, false).await?;
    refuse_if_depended_on(&mut *conn, project, key).await?;
    store::set_archived(&mut *conn, flag.id, true, now).await?;
    let mut after = serde_json::json!({ "archived": true });
    if let Some(outcome) = &note.outcome {
        after["outcome"] = outcome.as_str().into();
    }
    let entry = NewEntry::new(
        audit::Action::FlagArchived,
        format!("flag {}/{}", project.key, key),
    )
    .project(&project.key)
    .flag(key)
    .before(serde_json::json!({ "archived": false }))
    .after(after)
    .reason(note.reason.as_deref());
    audit::append(&mut *conn, actor, entry, now).await?;
    detail(&mut *conn, project, key, now).await
}

pub async fn revive(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<FlagDetail> {
    let flag = flag_in_state(&mut *conn, project, key, true).await?;
    store::set_archived(&mut *conn, flag.id, false, now).await?;
    let entry = NewEntry::new(
        audit::Action::FlagRevived,
        format!("flag {}/{}", project.key, key),
    )
    .project(&project.key)
    .flag(key)
    .before(serde_json::json!({ "archived": true }))
    .after(serde_json::json!({ "archived": false }));
    audit::append(&mut *conn, actor, entry, now).await?;
    switch_off_everywhere(&mut *conn, actor, project, &flag, now).await?;
    detail(&mut *conn, project, key, now).await
}

/// The flag, when it is archived (`archived`) or active as asked.
async fn flag_in_state(
    conn: &mut Conn,
    project: &Project,
    key: &str,
    archived: bool,
) -> AppResult<FlagRow> {
    let Some(flag) = store::flag_by_key(&mut *conn, project.id, key).await? else {
        return Err(flag_not_found(project, key));
    };
    if flag.archived_at.is_some() == archived {
        return Ok(flag);
    }
    Err(if archived {
        AppError::conflict(
            "flag-not-archived",
            format!("the flag {key} is already active"),
        )
    } else {
        AppError::conflict(
            "flag-already-archived",
            format!("the flag {key} is already archived"),
        )
    })
}

/// A revived flag comes back switched off in every environment, as in Unleash: reviving must
/// not make a flag live again anywhere, least of all in a protected environment, without review.
/// Each switch turned off is audited like any other.
async fn switch_off_everywhere(
    conn: &mut Conn,
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
