//! Creating a flag and editing its metadata: every field checked at once, the owner resolved,
//! the change audited with the flag as it was and as it is.

use super::flag::{self, FlagType, OwnerRef, ValueType};
use super::service::{detail, live_flag, FlagDetail, FlagInput, FlagPatch};
use super::store;
use crate::accounts::store as accounts;
use crate::audit::{self, Actor, NewEntry};
use crate::db::Conn;
use crate::error::{AppError, AppResult, FieldError};
use crate::projects::Project;
use chrono::{DateTime, Utc};

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
    conn: &mut Conn,
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

/// Refuses an owner nobody has (`owner` is an e-mail, `team:key`, or empty for nobody), as
/// editing a flag would: for checking once before changing many flags.
pub async fn check_owner(conn: &mut Conn, owner: &str) -> AppResult<()> {
    resolve_owner(conn, owner)
        .await?
        .map(|_| ())
        .map_err(|message| AppError::invalid("owner", message))
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
    conn: &mut Conn,
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
    conn: &mut Conn,
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
