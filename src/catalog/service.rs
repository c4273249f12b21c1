//! Catalog operations: validate, change, audit — all inside the caller's transaction.

pub use super::archive::{archive, revive};
use super::flag::{self, FlagType, OwnerRef, ValueType};
use super::store::{self, EnvState, FlagRow};
use crate::accounts::store as accounts;
use crate::audit::{self, Actor, NewEntry};
use crate::error::{AppError, AppResult, FieldError};
use crate::lifecycle::assess::{self, Assessment};
use crate::lifecycle::stale::StaleReason;
use crate::lifecycle::Stage;
use crate::projects::{store as projects, Environment, Project};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::SqliteConnection;

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

/// Collects every field's complaint so the form can show them all at once.
#[derive(Default)]
struct Checked(Vec<FieldError>);

impl Checked {
    fn take<V>(&mut self, field: &'static str, r: Result<V, String>) -> Option<V> {
        r.map_err(|message| self.0.push(FieldError { field, message }))
            .ok()
    }
    fn finish(self) -> AppResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Invalid(self.0))
        }
    }
}

fn parse_type(s: &str) -> Result<FlagType, String> {
    FlagType::parse(s).ok_or_else(|| {
        "choose one of release, experiment, operational, kill-switch, permission".into()
    })
}

fn parse_value_type(s: &str) -> Result<ValueType, String> {
    ValueType::parse(s).ok_or_else(|| "choose one of boolean, string, number, json".into())
}

async fn resolve_owner(
    conn: &mut SqliteConnection,
    owner: &str,
) -> AppResult<Result<(Option<i64>, Option<i64>), String>> {
    Ok(match OwnerRef::parse(owner) {
        None => Ok((None, None)),
        Some(OwnerRef::User(email)) => match accounts::user_by_email(conn, &email).await? {
            Some(u) => Ok((Some(u.id), None)),
            None => Err(format!("no user has the e-mail {email}")),
        },
        Some(OwnerRef::Team(key)) => match accounts::team_by_key(conn, &key).await? {
            Some(t) => Ok((None, Some(t.id))),
            None => Err(format!("no team has the key {key}")),
        },
    })
}

fn check_links(links: &[(String, String)]) -> Result<Vec<(String, String)>, String> {
    links
        .iter()
        .filter(|(_, url)| !url.trim().is_empty())
        .map(|(kind, url)| {
            let kind = match kind.trim() {
                "" => "link".to_string(),
                k if k.chars().count() <= 30 && !k.chars().any(char::is_control) => k.to_string(),
                _ => return Err("a link's kind has at most 30 characters".to_string()),
            };
            Ok((kind, flag::check_link(url)?))
        })
        .collect()
}

pub async fn create_flag(
    conn: &mut SqliteConnection,
    actor: &Actor,
    project: &Project,
    input: FlagInput,
    now: DateTime<Utc>,
) -> AppResult<FlagDetail> {
    let mut c = Checked::default();
    let key = input.key.trim();
    c.take(
        "key",
        flag::check_key(
            key,
            project.key_pattern.as_deref(),
            project.key_example.as_deref(),
        ),
    );
    let name = if input.name.trim().is_empty() {
        key.to_string()
    } else {
        input.name.clone()
    };
    let name = c.take("name", flag::check_name(&name));
    let description = c.take("description", flag::check_description(&input.description));
    let ftype = c.take(
        "type",
        parse_type(if input.flag_type.is_empty() {
            "release"
        } else {
            &input.flag_type
        }),
    );
    let vtype = c.take(
        "valueType",
        parse_value_type(if input.value_type.is_empty() {
            "boolean"
        } else {
            &input.value_type
        }),
    );
    let tags = c.take("tags", flag::check_tags(&input.tags));
    let links = c.take("links", check_links(&input.links));
    let owner = c.take("owner", resolve_owner(&mut *conn, &input.owner).await?);
    let existing = store::flag_keys(&mut *conn, project.id).await?;
    let look_alike = flag::confusable_with(key, existing.iter().map(String::as_str));
    c.take(
        "key",
        look_alike.map_or(Ok(()), |other| {
            Err(format!(
                "the key {key:?} looks like the existing flag {other:?} (Unicode confusables): \
                 choose a key that reads differently"
            ))
        }),
    );
    c.finish()?;
    let (
        Some(name),
        Some(description),
        Some(ftype),
        Some(vtype),
        Some(tags),
        Some(links),
        Some(owner),
    ) = (name, description, ftype, vtype, tags, links, owner)
    else {
        return Err(AppError::invalid("key", "the flag is not valid"));
    };

    let new = store::NewFlag {
        key,
        name: &name,
        description: &description,
        flag_type: ftype.as_str(),
        value_type: vtype.as_str(),
        owner_user_id: owner.0,
        owner_team_id: owner.1,
        created_by: &actor.label,
    };
    let Some(id) = store::insert_flag(&mut *conn, project.id, &new, now).await? else {
        return Err(AppError::Invalid(vec![FieldError {
            field: "key",
            message: format!("a flag with the key {key:?} already exists in this project"),
        }]));
    };
    store::replace_tags(&mut *conn, id, &tags).await?;
    store::replace_links(&mut *conn, id, &links).await?;
    let detail = detail(&mut *conn, project, key, now).await?;
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(
            audit::Action::FlagCreated,
            format!("flag {}/{}", project.key, key),
        )
        .project(&project.key)
        .flag(key)
        .after(audit_view(&detail)),
        now,
    )
    .await?;
    Ok(detail)
}

/// What the audit log keeps of a flag's metadata, so before/after diffs stay readable.
fn audit_view(d: &FlagDetail) -> serde_json::Value {
    serde_json::json!({
        "name": d.flag.name,
        "description": d.flag.description,
        "type": d.flag.flag_type,
        "valueType": d.flag.value_type,
        "owner": d.flag.owner,
        "tags": d.tags,
        "links": d.links,
    })
}

pub async fn update_flag(
    conn: &mut SqliteConnection,
    actor: &Actor,
    project: &Project,
    key: &str,
    patch: FlagPatch,
    now: DateTime<Utc>,
) -> AppResult<FlagDetail> {
    // Archived flags are read-only until revived.
    live_flag(&mut *conn, project, key).await?;
    let before = detail(&mut *conn, project, key, now).await?;
    let mut c = Checked::default();
    let name = match &patch.name {
        Some(n) => c.take("name", flag::check_name(n)),
        None => Some(before.flag.name.clone()),
    };
    let description = match &patch.description {
        Some(d) => c.take("description", flag::check_description(d)),
        None => Some(before.flag.description.clone()),
    };
    let ftype = c.take(
        "type",
        parse_type(patch.flag_type.as_deref().unwrap_or(&before.flag.flag_type)),
    );
    let owner = match &patch.owner {
        Some(o) => c.take("owner", resolve_owner(&mut *conn, o).await?),
        None => Some((before.flag.owner_user_id, before.flag.owner_team_id)),
    };
    let tags = match &patch.tags {
        Some(t) => c.take("tags", flag::check_tags(t)),
        None => Some(before.tags.clone()),
    };
    let links = match &patch.links {
        Some(l) => c.take("links", check_links(l)),
        None => Some(
            before
                .links
                .iter()
                .map(|l| (l.kind.clone(), l.url.clone()))
                .collect(),
        ),
    };
    c.finish()?;
    let (Some(name), Some(description), Some(ftype), Some(owner), Some(tags), Some(links)) =
        (name, description, ftype, owner, tags, links)
    else {
        return Err(AppError::invalid("name", "the change is not valid"));
    };
    let meta = store::Metadata {
        name: &name,
        description: &description,
        flag_type: ftype.as_str(),
        owner_user_id: owner.0,
        owner_team_id: owner.1,
    };
    store::update_metadata(&mut *conn, before.flag.id, &meta, now).await?;
    store::replace_tags(&mut *conn, before.flag.id, &tags).await?;
    store::replace_links(&mut *conn, before.flag.id, &links).await?;
    let after = detail(&mut *conn, project, key, now).await?;
    if audit_view(&before) != audit_view(&after) {
        audit::append(
            &mut *conn,
            actor,
            NewEntry::new(
                audit::Action::FlagUpdated,
                format!("flag {}/{}", project.key, key),
            )
            .project(&project.key)
            .flag(key)
            .before(audit_view(&before))
            .after(audit_view(&after)),
            now,
        )
        .await?;
    }
    Ok(after)
}

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

pub fn flag_not_found(project: &Project, key: &str) -> AppError {
    AppError::not_found(format!(
        "there is no flag {key:?} in the project {}",
        project.key
    ))
}

/// The flag, refusing archived ones: they can be read and revived, not changed.
pub async fn live_flag(
    conn: &mut SqliteConnection,
    project: &Project,
    key: &str,
) -> AppResult<FlagRow> {
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
    conn: &mut SqliteConnection,
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
    conn: &mut SqliteConnection,
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
