//! Loading a [`Document`] into a project: environments, segments, flags and their targeting,
//! in the caller's transaction, one audit entry per flag that changed.

use super::document::*;
use super::store;
use crate::accounts::store as accounts;
use crate::audit::{self, Actor, NewEntry};
use crate::catalog::flag::{check_key, FlagType, OwnerRef, ValueType};
use crate::catalog::store as catalog;
use crate::clock::stamp;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::projects::{store as projects, Environment, Project};
use crate::targeting::import::remap_segments;
use crate::targeting::store as targeting;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct Summary {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

fn bad(message: String) -> AppError {
    AppError::bad_request("invalid-import", message)
}

pub async fn document(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    doc: &Document,
    now: DateTime<Utc>,
) -> AppResult<Summary> {
    if doc.format != FORMAT {
        return Err(bad(format!(
            "unknown format {:?}; expected {FORMAT}",
            doc.format
        )));
    }
    let archiving = flags_to_archive(conn, project, doc).await?;
    let envs = environments(conn, project, &doc.environments, now).await?;
    let segments = segments(conn, actor, project, &doc.segments, now).await?;
    let mut summary = Summary::default();
    for f in &doc.flags {
        match flag(conn, actor, project, &envs, &segments, f, now).await? {
            Outcome::Created => summary.created += 1,
            Outcome::Updated => summary.updated += 1,
            Outcome::Unchanged => summary.unchanged += 1,
        }
    }
    // As archiving anywhere else: not while active flags depend on it (checked once the whole
    // document is in, since it may archive or re-point those flags too).
    for key in archiving {
        crate::catalog::archive::refuse_if_depended_on(&mut *conn, project, &key).await?;
    }
    Ok(summary)
}

/// The document's archived flags that are active (or absent) in the project now.
async fn flags_to_archive(
    conn: &mut Conn,
    project: &Project,
    doc: &Document,
) -> AppResult<Vec<String>> {
    let mut keys = Vec::new();
    for f in doc.flags.iter().filter(|f| f.archived) {
        let now_archived = catalog::flag_by_key(&mut *conn, project.id, &f.key)
            .await?
            .is_some_and(|existing| existing.archived_at.is_some());
        if !now_archived {
            keys.push(f.key.clone());
        }
    }
    Ok(keys)
}

async fn environments(
    conn: &mut Conn,
    project: &Project,
    docs: &[EnvironmentDoc],
    now: DateTime<Utc>,
) -> AppResult<HashMap<String, Environment>> {
    for e in docs {
        let existing = projects::environment(&mut *conn, project.id, &e.key).await?;
        match existing {
            Some(env)
                if env.protected != e.protected
                    || env.required_approvals != e.required_approvals =>
            {
                projects::set_protection(&mut *conn, env.id, e.protected, e.required_approvals)
                    .await?;
            }
            Some(_) => {}
            None => {
                crate::projects::valid_key(&e.key)
                    .map_err(|m| bad(format!("environment {:?}: {m}", e.key)))?;
                let order = projects::next_sort_order(&mut *conn, project.id).await?;
                projects::insert_environment(
                    &mut *conn,
                    project.id,
                    &e.key,
                    &e.name,
                    order,
                    e.protected,
                    now,
                )
                .await?;
            }
        }
    }
    Ok(projects::environments(&mut *conn, project.id)
        .await?
        .into_iter()
        .map(|e| (e.key.clone(), e))
        .collect())
}

/// Segments are matched by name; returns the document's ids mapped to ours. Each one created or
/// changed is audited.
async fn segments(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    docs: &[SegmentDoc],
    at: DateTime<Utc>,
) -> AppResult<HashMap<i64, i64>> {
    let mut ids = HashMap::new();
    let now = stamp(at);
    for s in docs {
        let constraints = s.constraints.to_string();
        let fields = (
            s.name.as_str(),
            s.description.as_str(),
            constraints.as_str(),
        );
        let (id, action) = match targeting::segment_by_name(&mut *conn, project.id, &s.name).await?
        {
            Some(existing) => {
                let changed =
                    existing.constraints != constraints || existing.description != s.description;
                if changed {
                    targeting::update_segment(&mut *conn, existing.id, fields, &now).await?;
                }
                (
                    existing.id,
                    changed.then_some(audit::Action::SegmentUpdated),
                )
            }
            None => (
                targeting::insert_segment(&mut *conn, project.id, fields, &now).await?,
                Some(audit::Action::SegmentCreated),
            ),
        };
        if let Some(action) = action {
            let entry = NewEntry::new(
                action,
                format!("segment {} in project {}", s.name, project.key),
            )
            .project(&project.key)
            .after(serde_json::json!({
                "name": s.name, "description": s.description, "constraints": s.constraints,
                "imported": true,
            }));
            audit::append(&mut *conn, actor, entry, at).await?;
        }
        ids.insert(s.id, id);
    }
    Ok(ids)
}

enum Outcome {
    Created,
    Updated,
    Unchanged,
}

async fn owner_ids(conn: &mut Conn, owner: Option<&str>) -> AppResult<(Option<i64>, Option<i64>)> {
    Ok(match owner.and_then(OwnerRef::parse) {
        None => (None, None),
        Some(OwnerRef::User(email)) => match accounts::user_by_email(conn, &email).await? {
            Some(u) => (Some(u.id), None),
            None => {
                return Err(bad(format!(
                    "the owner {email} is not a user here; create the user first"
                )))
            }
        },
        Some(OwnerRef::Team(key)) => match accounts::team_by_key(conn, &key).await? {
            Some(t) => (None, Some(t.id)),
            None => {
                return Err(bad(format!(
                    "the owning team {key} does not exist here; create it first"
                )))
            }
        },
    })
}

async fn flag(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    envs: &HashMap<String, Environment>,
    segment_ids: &HashMap<i64, i64>,
    f: &FlagDoc,
    now: DateTime<Utc>,
) -> AppResult<Outcome> {
    check_key(
        &f.key,
        project.key_pattern.as_deref(),
        project.key_example.as_deref(),
    )
    .map_err(|m| bad(format!("the flag {:?} cannot be imported: {m}", f.key)))?;
    let flag_type = FlagType::parse(&f.flag_type).ok_or_else(|| {
        bad(format!(
            "the flag {} has an unknown type {:?}",
            f.key, f.flag_type
        ))
    })?;
    let value_type = ValueType::parse(&f.value_type).ok_or_else(|| {
        bad(format!(
            "the flag {} has an unknown value type {:?}",
            f.key, f.value_type
        ))
    })?;
    let (owner_user_id, owner_team_id) = owner_ids(conn, f.owner.as_deref()).await?;
    let before = super::export::project_flag(conn, project, &f.key).await?;
    if before.as_ref() == Some(f) {
        return Ok(Outcome::Unchanged);
    }
    let flag_id = match catalog::flag_by_key(&mut *conn, project.id, &f.key).await? {
        Some(existing) => {
            let meta = catalog::Metadata {
                name: &f.name,
                description: &f.description,
                flag_type: flag_type.as_str(),
                owner_user_id,
                owner_team_id,
            };
            catalog::update_metadata(&mut *conn, existing.id, &meta, now).await?;
            if existing.archived_at.is_some() != f.archived {
                catalog::set_archived(&mut *conn, existing.id, f.archived, now).await?;
            }
            existing.id
        }
        None => {
            let new = catalog::NewFlag {
                key: &f.key,
                name: &f.name,
                description: &f.description,
                flag_type: flag_type.as_str(),
                value_type: value_type.as_str(),
                owner_user_id,
                owner_team_id,
                created_by: &actor.label,
            };
            let id = catalog::insert_flag(&mut *conn, project.id, &new, now)
                .await?
                .ok_or_else(|| bad(format!("the flag {} appeared twice", f.key)))?;
            if f.archived {
                catalog::set_archived(&mut *conn, id, true, now).await?;
            }
            id
        }
    };
    store::set_flag_extras(&mut *conn, flag_id, value_type.as_str(), f.impression_data).await?;
    catalog::replace_tags(&mut *conn, flag_id, &f.tags).await?;
    let links: Vec<(String, String)> = f
        .links
        .iter()
        .map(|l| (l.kind.clone(), l.url.clone()))
        .collect();
    catalog::replace_links(&mut *conn, flag_id, &links).await?;
    for (env_key, t) in &f.environments {
        let env = envs.get(env_key).ok_or_else(|| {
            bad(format!(
                "the flag {} names an unknown environment {env_key}",
                f.key
            ))
        })?;
        let mut strategies = t.strategies.clone();
        remap_segments(&mut strategies, segment_ids);
        store::set_environment(
            &mut *conn,
            flag_id,
            env.id,
            t.enabled,
            &strategies.to_string(),
            &t.variants.to_string(),
            &stamp(now),
        )
        .await?;
        if t.enabled {
            crate::lifecycle::store::mark_enabled(&mut *conn, flag_id, &stamp(now)).await?;
        }
    }
    let deps: Vec<(String, bool, String)> = f
        .dependencies
        .iter()
        .map(|d| {
            (
                d.feature.clone(),
                d.enabled,
                serde_json::json!(d.variants).to_string(),
            )
        })
        .collect();
    targeting::replace_dependencies(&mut *conn, flag_id, &deps).await?;
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(
            audit::Action::FlagImported,
            format!("flag {}/{}", project.key, f.key),
        )
        .project(&project.key)
        .flag(&f.key)
        .before(&before)
        .after(f),
        now,
    )
    .await?;
    Ok(if before.is_some() {
        Outcome::Updated
    } else {
        Outcome::Created
    })
}
