//! Reading a project into a [`Document`].

use super::document::*;
use super::store;
use crate::catalog::filter::CatalogFilter;
use crate::catalog::store as catalog;
use crate::db::Conn;
use crate::error::AppResult;
use crate::projects::{store as projects, Environment, Project};
use crate::targeting::store as targeting;
use serde_json::Value;
use std::collections::BTreeMap;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Array(vec![]))
}

pub async fn project(conn: &mut Conn, project: &Project) -> AppResult<Document> {
    let envs = projects::environments(&mut *conn, project.id).await?;
    let segments = targeting::segments_of(&mut *conn, project.id)
        .await?
        .into_iter()
        .map(|s| SegmentDoc {
            id: s.id,
            name: s.name,
            description: s.description,
            constraints: json(&s.constraints),
        })
        .collect();
    let all = CatalogFilter {
        archived: Some("all".into()),
        ..CatalogFilter::default()
    };
    let page = catalog::search(&mut *conn, &[project.id], &all, Some(i64::MAX)).await?;
    let ids: Vec<i64> = page.flags.iter().map(|f| f.id).collect();
    let mut tags = catalog::tags_of(&mut *conn, &ids).await?;
    let mut flags = Vec::new();
    for f in page.flags {
        let t = tags.remove(&f.id).unwrap_or_default();
        flags.push(flag_doc(&mut *conn, &envs, f, t).await?);
    }
    Ok(Document {
        format: FORMAT.to_string(),
        project: ProjectDoc {
            key: project.key.clone(),
            name: project.name.clone(),
            description: project.description.clone(),
            key_pattern: project.key_pattern.clone(),
            key_example: project.key_example.clone(),
        },
        environments: envs
            .into_iter()
            .map(|e| EnvironmentDoc {
                key: e.key,
                name: e.name,
                protected: e.protected,
                required_approvals: e.required_approvals,
            })
            .collect(),
        segments,
        flags,
    })
}

/// One flag as the document holds it, or None when the project has no such flag.
pub async fn project_flag(
    conn: &mut Conn,
    project: &Project,
    key: &str,
) -> AppResult<Option<FlagDoc>> {
    let Some(f) = catalog::flag_by_key(&mut *conn, project.id, key).await? else {
        return Ok(None);
    };
    let envs = projects::environments(&mut *conn, project.id).await?;
    let tags = catalog::tags_of(&mut *conn, &[f.id])
        .await?
        .remove(&f.id)
        .unwrap_or_default();
    Ok(Some(flag_doc(conn, &envs, f, tags).await?))
}

async fn flag_doc(
    conn: &mut Conn,
    envs: &[Environment],
    f: catalog::FlagRow,
    tags: Vec<String>,
) -> AppResult<FlagDoc> {
    let extras = store::flag_extras(&mut *conn, f.id).await?;
    let links = catalog::links_of(&mut *conn, f.id)
        .await?
        .into_iter()
        .map(|(kind, url)| LinkDoc { kind, url })
        .collect();
    let dependencies = targeting::dependencies_of(&mut *conn, f.id)
        .await?
        .into_iter()
        .map(|d| DependencyDoc {
            feature: d.parent_key,
            enabled: d.enabled,
            variants: serde_json::from_str(&d.variants).unwrap_or_default(),
        })
        .collect();
    let mut environments = BTreeMap::new();
    for e in envs {
        if let Some(t) = targeting::targeting_of(&mut *conn, f.id, e.id).await? {
            environments.insert(
                e.key.clone(),
                TargetingDoc {
                    enabled: t.enabled,
                    strategies: json(&t.strategies),
                    variants: json(&t.variants),
                },
            );
        }
    }
    Ok(FlagDoc {
        tags,
        key: f.key,
        name: f.name,
        description: f.description,
        flag_type: f.flag_type,
        value_type: extras.value_type,
        owner: f.owner,
        links,
        impression_data: extras.impression_data,
        archived: f.archived_at.is_some(),
        dependencies,
        environments,
    })
}

/// One environment in Unleash's client-API shape, with segment names kept (Unleash's type drops
/// them, and an import needs them to match segments by name).
pub async fn unleash_state(
    conn: &mut Conn,
    project: &Project,
    env: &Environment,
) -> AppResult<Value> {
    let (state, _) =
        targeting::environment_state(&mut *conn, project.id, &project.key, env.id).await?;
    let names: std::collections::HashMap<i64, String> =
        targeting::segments_of(&mut *conn, project.id)
            .await?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
    let mut value = serde_json::to_value(&state).map_err(anyhow::Error::from)?;
    if let Some(obj) = value.as_object_mut() {
        obj.remove("query");
        obj.remove("meta");
    }
    for s in value["segments"].as_array_mut().into_iter().flatten() {
        if let Some(name) = s["id"].as_i64().and_then(|id| names.get(&id)) {
            s["name"] = Value::from(name.clone());
        }
    }
    Ok(value)
}
