//! What owners decide about a flag's life: it is done (completed, with the outcome), it is not
//! stale until a date (snoozed, with a reason), and the project's thresholds. Each is audited
//! inside the caller's transaction.

use super::stale::Thresholds;
use super::store;
use crate::audit::{self, Action, Actor, NewEntry};
use crate::catalog::service::live_flag;
use crate::clock::{parse_stamp, stamp};
use crate::db::Conn;
use crate::error::{AppError, AppResult, FieldError};
use crate::projects::Project;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::json;

/// An owner's "this flag is done", as the API and the form send it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompletionDraft {
    /// `kept` (released and kept) or `discarded`.
    pub outcome: String,
    /// The variant or branch to keep in the code.
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

pub async fn complete(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    key: &str,
    draft: CompletionDraft,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let flag = live_flag(&mut *conn, project, key).await?;
    let outcome = draft.outcome.trim();
    if !matches!(outcome, "kept" | "discarded") {
        return Err(AppError::invalid(
            "outcome",
            "choose kept (released and kept) or discarded",
        ));
    }
    let variant = draft
        .variant
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let note = draft.note.as_deref().unwrap_or("").trim();
    if variant.is_some_and(|v| v.chars().count() > 100) || note.chars().count() > 1000 {
        return Err(AppError::invalid(
            "note",
            "keep the variant under 100 and the note under 1,000 characters",
        ));
    }
    let at = stamp(now);
    let c = store::Completion {
        outcome,
        variant,
        note,
        by: &actor.label,
        at: &at,
    };
    store::complete(&mut *conn, flag.id, &c).await?;
    let entry = NewEntry::new(
        Action::FlagCompleted,
        format!("flag {}/{}", project.key, key),
    )
    .project(&project.key)
    .flag(key)
    .after(json!({ "outcome": outcome, "variant": variant, "note": note }));
    audit::append(conn, actor, entry, now).await?;
    Ok(())
}

/// Takes "completed" back: the flag's stage follows its environments again.
pub async fn reopen(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let flag = live_flag(&mut *conn, project, key).await?;
    if !store::reopen(&mut *conn, flag.id).await? {
        return Err(AppError::conflict(
            "not-completed",
            format!("{key} is not marked completed"),
        ));
    }
    let entry = NewEntry::new(
        Action::FlagReopened,
        format!("flag {}/{}", project.key, key),
    )
    .project(&project.key)
    .flag(key);
    audit::append(conn, actor, entry, now).await?;
    Ok(())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnoozeDraft {
    /// RFC 3339, or a date (`2027-01-31`, meaning its start in UTC).
    pub until: String,
    pub reason: String,
}

/// The longest snooze: a flag's staleness is looked at again at least twice a year.
const MAX_SNOOZE_DAYS: i64 = 180;

fn parse_until(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    parse_stamp(s).or_else(|| parse_stamp(&format!("{s}T00:00:00Z")))
}

pub async fn snooze(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    key: &str,
    draft: SnoozeDraft,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let flag = live_flag(&mut *conn, project, key).await?;
    let mut errors = Vec::new();
    let until = parse_until(&draft.until);
    match until {
        None => errors.push(FieldError {
            field: "until",
            message: "give a date like 2027-01-31 or an RFC 3339 time".into(),
        }),
        Some(u) if u <= now || u > now + Duration::days(MAX_SNOOZE_DAYS) => {
            errors.push(FieldError {
                field: "until",
                message: format!("choose a date in the next {MAX_SNOOZE_DAYS} days"),
            })
        }
        _ => {}
    }
    let reason = draft.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        errors.push(FieldError {
            field: "reason",
            message: "say in up to 500 characters why it is not stale".into(),
        });
    }
    let (Some(until), true) = (until, errors.is_empty()) else {
        return Err(AppError::Invalid(errors));
    };
    let until = stamp(until);
    store::snooze(
        &mut *conn,
        flag.id,
        &until,
        reason,
        &actor.label,
        &stamp(now),
    )
    .await?;
    let entry = NewEntry::new(Action::FlagSnoozed, format!("flag {}/{}", project.key, key))
        .project(&project.key)
        .flag(key)
        .after(json!({ "until": until, "reason": reason }));
    audit::append(conn, actor, entry, now).await?;
    Ok(())
}

pub async fn unsnooze(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let flag = live_flag(&mut *conn, project, key).await?;
    if !store::unsnooze(&mut *conn, flag.id).await? {
        return Err(AppError::conflict(
            "not-snoozed",
            format!("{key} is not snoozed"),
        ));
    }
    let entry = NewEntry::new(
        Action::FlagUnsnoozed,
        format!("flag {}/{}", project.key, key),
    )
    .project(&project.key)
    .flag(key);
    audit::append(conn, actor, entry, now).await?;
    Ok(())
}

/// A flag's own expected lifetime (None: its type's) and whether it is meant to stay.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlagLifecycleDraft {
    #[serde(default)]
    pub expected_lifetime_days: Option<i64>,
    #[serde(default)]
    pub permanent: bool,
}

pub async fn set_flag_lifecycle(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    key: &str,
    d: FlagLifecycleDraft,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let flag = live_flag(&mut *conn, project, key).await?;
    if d.expected_lifetime_days
        .is_some_and(|n| !(1..=3650).contains(&n))
    {
        return Err(AppError::invalid(
            "expectedLifetimeDays",
            "give a number of days from 1 to 3650, or leave it out for the type's",
        ));
    }
    store::set_flag_lifecycle(&mut *conn, flag.id, d.expected_lifetime_days, d.permanent).await?;
    let entry = NewEntry::new(
        Action::FlagLifecycleSet,
        format!("flag {}/{}", project.key, key),
    )
    .project(&project.key)
    .flag(key)
    .after(json!({ "expectedLifetimeDays": d.expected_lifetime_days, "permanent": d.permanent }));
    audit::append(conn, actor, entry, now).await?;
    Ok(())
}

pub async fn set_thresholds(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    t: Thresholds,
    now: DateTime<Utc>,
) -> AppResult<Thresholds> {
    let bad = t.check();
    if !bad.is_empty() {
        return Err(AppError::Invalid(
            bad.into_iter()
                .map(|(field, message)| FieldError { field, message })
                .collect(),
        ));
    }
    let before = store::thresholds(&mut *conn, project.id).await?;
    store::set_thresholds(&mut *conn, project.id, &t).await?;
    let entry = NewEntry::new(
        Action::ProjectLifecycleSet,
        format!("project {}", project.key),
    )
    .project(&project.key)
    .before(json!(before))
    .after(json!(t));
    audit::append(conn, actor, entry, now).await?;
    Ok(t)
}
