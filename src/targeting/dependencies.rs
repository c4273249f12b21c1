//! A flag's dependencies on other flags (one level, as in Unleash), and where changing them
//! makes an environment serve something else.

use super::store;
use super::strategies::{path_error, to_json};
use crate::audit::{self, Actor, NewEntry};
use crate::catalog::service::live_flag;
use crate::clock::stamp;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::projects::Project;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashSet;

/// A parent the flag depends on (Unleash's shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DependencyDraft {
    pub feature: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub variants: Vec<String>,
}

pub(super) fn yes() -> bool {
    true
}

pub async fn dependencies(
    conn: &mut Conn,
    project: &Project,
    flag_key: &str,
) -> AppResult<Vec<DependencyDraft>> {
    let flag = crate::catalog::store::flag_by_key(&mut *conn, project.id, flag_key)
        .await?
        .ok_or_else(|| crate::catalog::service::flag_not_found(project, flag_key))?;
    read_dependencies(conn, flag.id).await
}

pub(super) async fn read_dependencies(
    conn: &mut Conn,
    flag_id: i64,
) -> AppResult<Vec<DependencyDraft>> {
    Ok(store::dependencies_of(conn, flag_id)
        .await?
        .into_iter()
        .map(|d| DependencyDraft {
            feature: d.parent_key,
            enabled: d.enabled,
            variants: serde_json::from_str(&d.variants).unwrap_or_default(),
        })
        .collect())
}

/// What replacing a flag's dependencies did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DependenciesSet {
    pub dependencies: Vec<DependencyDraft>,
    /// The environments where the flag now serves something else (dependencies apply in every
    /// environment, each with the parents' state there).
    pub environments: Vec<String>,
}

/// Replaces the flag's dependencies. Unleash allows one level only: a parent must not depend on
/// anything, and a flag that others depend on cannot get parents itself.
pub async fn set_dependencies(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    flag_key: &str,
    deps: Vec<DependencyDraft>,
    now: DateTime<Utc>,
) -> AppResult<DependenciesSet> {
    let flag = live_flag(&mut *conn, project, flag_key).await?;
    let mut errors = Vec::new();
    let children = store::children_of(&mut *conn, project.id, &flag.key).await?;
    if !deps.is_empty() && !children.is_empty() {
        errors.push(path_error(
            "dependencies",
            format!(
                "{} depend on {}, so it cannot depend on other flags itself",
                children.join(", "),
                flag.key
            ),
        ));
    }
    let mut seen = HashSet::new();
    for (i, d) in deps.iter().enumerate() {
        let field = format!("dependencies[{i}].feature");
        let parent = d.feature.trim();
        if parent.is_empty() {
            errors.push(path_error(field, "name the parent flag"));
            continue;
        }
        if parent == flag.key {
            errors.push(path_error(field, "a flag cannot depend on itself"));
            continue;
        }
        if !seen.insert(parent.to_string()) {
            errors.push(path_error(field, format!("{parent} is listed twice")));
            continue;
        }
        let Some(p) = crate::catalog::store::flag_by_key(&mut *conn, project.id, parent).await?
        else {
            errors.push(path_error(
                field,
                format!("there is no flag {parent:?} in the project {}", project.key),
            ));
            continue;
        };
        if !store::dependencies_of(&mut *conn, p.id).await?.is_empty() {
            errors.push(path_error(
                field,
                format!("{parent} depends on other flags itself; only one level is allowed"),
            ));
        }
        for (j, v) in d.variants.iter().enumerate() {
            if v.trim().is_empty() {
                errors.push(path_error(
                    format!("dependencies[{i}].variants[{j}]"),
                    "a variant name cannot be empty",
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(AppError::InvalidPaths(errors));
    }
    let before = read_dependencies(&mut *conn, flag.id).await?;
    let envs = crate::projects::store::environments(&mut *conn, project.id).await?;
    let keys = [flag.key.clone()];
    let served_before = super::served::read(&mut *conn, project, &envs, &keys).await?;
    let rows = deps
        .iter()
        .map(|d| {
            Ok((
                d.feature.trim().to_string(),
                d.enabled,
                to_json(&d.variants)?,
            ))
        })
        .collect::<AppResult<Vec<_>>>()?;
    store::replace_dependencies(&mut *conn, flag.id, &rows).await?;
    store::touch_flag(&mut *conn, flag.id, &stamp(now)).await?;
    let after = read_dependencies(&mut *conn, flag.id).await?;
    let served_after = super::served::read(&mut *conn, project, &envs, &keys).await?;
    let environments = super::served::changed(&served_before, &served_after);
    let target = if environments.is_empty() {
        format!(
            "flag {}/{} (serves the same everywhere)",
            project.key, flag.key
        )
    } else {
        format!(
            "flag {}/{} (serves differently in {})",
            project.key,
            flag.key,
            environments.join(", ")
        )
    };
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(audit::Action::FlagDependenciesReplaced, target)
            .project(&project.key)
            .flag(&flag.key)
            .before(json!({ "dependencies": before }))
            .after(json!({ "dependencies": after, "environments": environments })),
        now,
    )
    .await?;
    Ok(DependenciesSet {
        dependencies: after,
        environments,
    })
}
