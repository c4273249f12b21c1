//! Catalog operations: validate, change, audit — all inside the caller's transaction. Creating
//! and editing a flag live in `edit`, switching in `switch`, archiving and reviving in `archive`; here are the flag's
//! view (`detail`) and the lookups they share.

use super::flag::FlagType;
use super::store::{self, EnvState, FlagRow};
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::lifecycle::assess::{self, Assessment};
use crate::lifecycle::stale::StaleReason;
use crate::lifecycle::Stage;
use crate::projects::{store as projects, Project};
use chrono::{DateTime, Utc};
use serde::Serialize;

pub use super::archive::{archive, revive};
pub use super::edit::{check_owner, create_flag, update_flag};
pub use super::switch::{set_enabled, Switch};

#[derive(Debug, Default, Clone)]
pub struct FlagInput {
    pub key: String,
    pub name: String,
    pub description: String,
    pub flag_type: String,
    pub value_type: String,
    pub owner: String,
    pub tags: Vec<String>,
    pub links: Vec<(String, String)>,
}

/// A partial edit; `None` leaves the field as it is.
#[derive(Debug, Default, Clone)]
pub struct FlagPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub flag_type: Option<String>,
    pub owner: Option<String>,
    pub tags: Option<Vec<String>>,
    pub links: Option<Vec<(String, String)>>,
}

/// Everything the flag page and the API show about one flag.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlagDetail {
    #[serde(flatten)]
    pub flag: FlagRow,
    pub project: String,
    pub tags: Vec<String>,
    pub links: Vec<Link>,
    pub environments: Vec<EnvState>,
    pub lifecycle_stage: Stage,
    /// The stage with its entry time and the stages before it, any snooze and completion.
    pub lifecycle: Option<Assessment>,
    /// Why it is stale, with evidence; empty when healthy or snoozed.
    pub stale_reasons: Vec<StaleReason>,
    pub expected_lifetime_days: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Link {
    pub kind: String,
    pub url: String,
}

pub fn flag_not_found(project: &Project, key: &str) -> AppError {
    AppError::not_found(format!(
        "there is no flag {key:?} in the project {}",
        project.key
    ))
}

/// The flag, refusing archived ones: they can be read and revived, not changed.
pub async fn live_flag(conn: &mut Conn, project: &Project, key: &str) -> AppResult<FlagRow> {
    match store::flag_by_key(conn, project.id, key).await? {
        None => Err(flag_not_found(project, key)),
        Some(f) if f.archived_at.is_some() => Err(AppError::conflict(
            "flag-archived",
            format!("the flag {key} is archived; revive it before changing it"),
        )),
        Some(f) => Ok(f),
    }
}

pub async fn lifetime_days(
    conn: &mut Conn,
    project: &Project,
    flag_type: &str,
) -> AppResult<Option<i64>> {
    let overrides = projects::lifetimes(conn, project.id).await?;
    if let Some((_, days)) = overrides.iter().find(|(t, _)| t == flag_type) {
        return Ok(*days);
    }
    Ok(FlagType::parse(flag_type).and_then(FlagType::default_lifetime_days))
}

pub async fn detail(
    conn: &mut Conn,
    project: &Project,
    key: &str,
    now: DateTime<Utc>,
) -> AppResult<FlagDetail> {
    let Some(flag) = store::flag_by_key(&mut *conn, project.id, key).await? else {
        return Err(flag_not_found(project, key));
    };
    let environments = store::env_states(&mut *conn, &[flag.id]).await?;
    let tags = store::tags_of(&mut *conn, &[flag.id])
        .await?
        .remove(&flag.id)
        .unwrap_or_default();
    let links = store::links_of(&mut *conn, flag.id)
        .await?
        .into_iter()
        .map(|(kind, url)| Link { kind, url })
        .collect();
    let lifetime = lifetime_days(&mut *conn, project, &flag.flag_type).await?;
    let assessed = assess::flag(&mut *conn, project, flag.id, &flag.key, now)
        .await?
        .ok_or_else(|| flag_not_found(project, key))?;
    Ok(FlagDetail {
        lifecycle_stage: assessed.stage,
        stale_reasons: assessed.reasons().to_vec(),
        lifecycle: Some(assessed),
        expected_lifetime_days: lifetime,
        project: project.key.clone(),
        flag,
        tags,
        links,
        environments,
    })
}
