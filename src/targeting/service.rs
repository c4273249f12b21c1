//! Editing targeting: strategies and flag-level variants per environment, dependencies per flag,
//! and the project's segments. Validate, change, audit — all inside the caller's transaction; the
//! feed rebuilds after the write request commits.
//!
//! Validation is the evaluation engine's (`crate::evaluation::validate_*`), so nothing is stored
//! that the engine would misread; what this module adds is what needs the database (segment ids,
//! dependency parents) and the stored shape (concrete variant weights, default parameters).

use super::store::{self, Column, SegmentRecord};
use crate::audit::{self, Actor, NewEntry};
use crate::catalog::service::live_flag;
use crate::clock::stamp;
use crate::error::{AppError, AppResult, PathError};
use crate::evaluation::{
    normalize_weights, validate_constraints, validate_strategies, validate_variants, FieldError,
    StrategyDraft, ValueType, VariantDraft,
};
use crate::projects::{Environment, Project};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::SqliteConnection;
use std::collections::HashSet;
use unleash_types::client_features::{Constraint, WeightType};

/// One environment's targeting of one flag, as stored (Unleash's shape).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Targeting {
    pub flag: String,
    pub environment: String,
    pub enabled: bool,
    pub version: i64,
    pub updated_at: String,
    pub strategies: Vec<Value>,
    pub variants: Vec<Value>,
}

impl Targeting {
    /// The strategies as drafts, for editing; `None` when the stored JSON (an import, say) is
    /// not in a shape the editor understands.
    pub fn strategy_drafts(&self) -> Option<Vec<StrategyDraft>> {
        serde_json::from_value(Value::Array(self.strategies.clone())).ok()
    }
}

/// The engine's validation findings as our field errors.
fn paths(errors: Vec<FieldError>) -> Vec<PathError> {
    errors
        .into_iter()
        .map(|e| PathError {
            field: e.field,
            message: e.message,
        })
        .collect()
}

fn path_error(field: impl Into<String>, message: impl Into<String>) -> PathError {
    PathError {
        field: field.into(),
        message: message.into(),
    }
}

fn to_json<T: Serialize>(v: &T) -> AppResult<String> {
    Ok(serde_json::to_string(v).map_err(anyhow::Error::from)?)
}

fn json_list(text: &str) -> Vec<Value> {
    serde_json::from_str(text).unwrap_or_default()
}

pub async fn targeting(
    conn: &mut SqliteConnection,
    project: &Project,
    flag_key: &str,
    env: &Environment,
) -> AppResult<Targeting> {
    let flag = crate::catalog::store::flag_by_key(&mut *conn, project.id, flag_key)
        .await?
        .ok_or_else(|| crate::catalog::service::flag_not_found(project, flag_key))?;
    read_targeting(conn, flag.id, &flag.key, env).await
}

async fn read_targeting(
    conn: &mut SqliteConnection,
    flag_id: i64,
    flag_key: &str,
    env: &Environment,
) -> AppResult<Targeting> {
    let row = store::targeting_of(conn, flag_id, env.id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("the flag {flag_key} has no {}", env.key)))?;
    Ok(Targeting {
        flag: flag_key.to_string(),
        environment: env.key.clone(),
        enabled: row.enabled,
        version: row.version,
        updated_at: row.updated_at,
        strategies: json_list(&row.strategies),
        variants: json_list(&row.variants),
    })
}

/// Concrete weights (Unleash's rule, spec 2.2), sorted by name; `weightType` is kept so that an
/// editor can tell fixed weights from shared ones.
fn stored_variants(variants: &[VariantDraft], flag_level: bool) -> AppResult<Vec<Value>> {
    let specs: Vec<(WeightType, i32)> = variants
        .iter()
        .map(|v| (v.weight_type.clone(), v.weight))
        .collect();
    let weights =
        normalize_weights(&specs).map_err(|e| AppError::invalid("variants", e.to_string()))?;
    let mut out: Vec<(String, Value)> = variants
        .iter()
        .zip(weights)
        .map(|(v, weight)| {
            let mut item = json!({
                "name": v.name,
                "weight": weight,
                "weightType": v.weight_type,
                "stickiness": v.stickiness.clone().filter(|s| !s.trim().is_empty())
                    .unwrap_or_else(|| "default".into()),
            });
            if let Some(p) = &v.payload {
                item["payload"] = json!(p);
            }
            if flag_level && !v.overrides.is_empty() {
                item["overrides"] = json!(v.overrides);
            }
            (v.name.clone(), item)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

/// Rollout strategies always carry a group id (the flag key unless given) and a stickiness, so
/// that every SDK hashes the same string (spec 2.2).
fn stored_strategy(s: &StrategyDraft, flag_key: &str) -> AppResult<Value> {
    let mut parameters = s.parameters.clone();
    if matches!(
        s.name.as_str(),
        "flexibleRollout" | "gradualRolloutUserId" | "gradualRolloutSessionId"
    ) && parameters
        .get("groupId")
        .is_none_or(|g| g.trim().is_empty())
    {
        parameters.insert("groupId".into(), flag_key.to_string());
    }
    if s.name == "flexibleRollout"
        && parameters
            .get("stickiness")
            .is_none_or(|g| g.trim().is_empty())
    {
        parameters.insert("stickiness".into(), "default".into());
    }
    Ok(json!({
        "name": s.name,
        "parameters": parameters,
        "constraints": s.constraints,
        "segments": s.segments,
        "variants": stored_variants(&s.variants, false)?,
    }))
}

/// Replaces one environment's strategies (an empty list means on for everyone when enabled).
pub async fn replace_strategies(
    conn: &mut SqliteConnection,
    actor: &Actor,
    project: &Project,
    flag_key: &str,
    env: &Environment,
    strategies: Vec<StrategyDraft>,
    now: DateTime<Utc>,
) -> AppResult<Targeting> {
    let flag = live_flag(&mut *conn, project, flag_key).await?;
    let value_type = store::value_type_of(&flag.value_type);
    let mut errors = paths(validate_strategies(&strategies, value_type));
    let known: HashSet<i64> = store::segments_of(&mut *conn, project.id)
        .await?
        .iter()
        .map(|s| s.id)
        .collect();
    for (i, s) in strategies.iter().enumerate() {
        for (j, id) in s.segments.iter().enumerate() {
            if !known.contains(&i64::from(*id)) {
                errors.push(path_error(
                    format!("strategies[{i}].segments[{j}]"),
                    format!("there is no segment {id} in the project {}", project.key),
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(AppError::InvalidPaths(errors));
    }
    let before = read_targeting(&mut *conn, flag.id, &flag.key, env).await?;
    let stored = strategies
        .iter()
        .map(|s| stored_strategy(s, &flag.key))
        .collect::<AppResult<Vec<Value>>>()?;
    store::set_targeting(
        &mut *conn,
        flag.id,
        env.id,
        Column::Strategies,
        &to_json(&stored)?,
        &stamp(now),
    )
    .await?;
    let after = read_targeting(&mut *conn, flag.id, &flag.key, env).await?;
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(
            "flag.strategies-replaced",
            format!("flag {}/{} in {}", project.key, flag.key, env.key),
        )
        .project(&project.key)
        .flag(&flag.key)
        .environment(&env.key)
        .before(json!({ "strategies": before.strategies }))
        .after(json!({ "strategies": after.strategies })),
        now,
    )
    .await?;
    Ok(after)
}

/// Replaces one environment's flag-level variants (with overrides and stickiness).
pub async fn replace_variants(
    conn: &mut SqliteConnection,
    actor: &Actor,
    project: &Project,
    flag_key: &str,
    env: &Environment,
    variants: Vec<VariantDraft>,
    now: DateTime<Utc>,
) -> AppResult<Targeting> {
    let flag = live_flag(&mut *conn, project, flag_key).await?;
    let value_type = store::value_type_of(&flag.value_type);
    let errors = validate_variants(&variants, value_type, "variants");
    if !errors.is_empty() {
        return Err(AppError::InvalidPaths(paths(errors)));
    }
    let before = read_targeting(&mut *conn, flag.id, &flag.key, env).await?;
    let stored = stored_variants(&variants, true)?;
    store::set_targeting(
        &mut *conn,
        flag.id,
        env.id,
        Column::Variants,
        &to_json(&stored)?,
        &stamp(now),
    )
    .await?;
    let after = read_targeting(&mut *conn, flag.id, &flag.key, env).await?;
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(
            "flag.variants-replaced",
            format!("flag {}/{} in {}", project.key, flag.key, env.key),
        )
        .project(&project.key)
        .flag(&flag.key)
        .environment(&env.key)
        .before(json!({ "variants": before.variants }))
        .after(json!({ "variants": after.variants })),
        now,
    )
    .await?;
    Ok(after)
}

// ---------- Dependencies ----------

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

fn yes() -> bool {
    true
}

pub async fn dependencies(
    conn: &mut SqliteConnection,
    project: &Project,
    flag_key: &str,
) -> AppResult<Vec<DependencyDraft>> {
    let flag = crate::catalog::store::flag_by_key(&mut *conn, project.id, flag_key)
        .await?
        .ok_or_else(|| crate::catalog::service::flag_not_found(project, flag_key))?;
    read_dependencies(conn, flag.id).await
}

async fn read_dependencies(
    conn: &mut SqliteConnection,
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
    conn: &mut SqliteConnection,
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
        NewEntry::new("flag.dependencies-replaced", target)
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

// ---------- Segments ----------

/// A segment as the admin API receives it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SegmentDraft {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub constraints: Vec<Constraint>,
}

/// Where a segment is used: one strategy list of one flag environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentUse {
    pub flag: String,
    pub environment: String,
    pub protected: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub constraints: Vec<Value>,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    pub used_by: Vec<SegmentUse>,
}

impl SegmentView {
    /// The constraints as typed values, for describing and editing.
    pub fn constraint_list(&self) -> Vec<Constraint> {
        serde_json::from_value(Value::Array(self.constraints.clone())).unwrap_or_default()
    }
}

fn segment_view(r: SegmentRecord, used_by: Vec<SegmentUse>) -> SegmentView {
    SegmentView {
        id: r.id,
        name: r.name,
        description: r.description,
        constraints: json_list(&r.constraints),
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
        used_by,
    }
}

fn audit_segment(s: &SegmentView) -> Value {
    json!({ "name": s.name, "description": s.description, "constraints": s.constraints })
}

/// Only the `segments` of each strategy: the rest is skipped unread, so counting uses over many
/// flags builds no JSON trees.
#[derive(Deserialize)]
struct SegmentRefs {
    #[serde(default)]
    segments: Value,
}

/// The segment ids a stored strategy list references.
fn segment_ids(strategies: &str) -> Vec<i64> {
    let lists: Vec<Value> = match serde_json::from_str::<Vec<SegmentRefs>>(strategies) {
        Ok(refs) => refs.into_iter().map(|r| r.segments).collect(),
        // Not a list of objects: read it as the editor does, skipping what is not a strategy.
        Err(_) => json_list(strategies)
            .into_iter()
            .filter_map(|mut s| s.get_mut("segments").map(Value::take))
            .collect(),
    };
    lists
        .iter()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_i64)
        .collect()
}

/// Every use of each segment id in the project's stored strategies (archived flags included: a
/// revived flag must not point at a segment that is gone).
async fn usage(
    conn: &mut SqliteConnection,
    project: &Project,
) -> AppResult<Vec<(i64, SegmentUse)>> {
    let mut out = Vec::new();
    for (flag, environment, protected, strategies) in
        store::strategies_using_segments(conn, project.id).await?
    {
        let mut ids = segment_ids(&strategies);
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            out.push((
                id,
                SegmentUse {
                    flag: flag.clone(),
                    environment: environment.clone(),
                    protected,
                },
            ));
        }
    }
    Ok(out)
}

pub async fn segment_usage(
    conn: &mut SqliteConnection,
    project: &Project,
    id: i64,
) -> AppResult<Vec<SegmentUse>> {
    Ok(usage(conn, project)
        .await?
        .into_iter()
        .filter(|(i, _)| *i == id)
        .map(|(_, u)| u)
        .collect())
}

/// The project's segments as (id, name), without their uses: what a strategy's picker needs.
pub async fn segment_names(
    conn: &mut SqliteConnection,
    project: &Project,
) -> AppResult<Vec<(i64, String)>> {
    Ok(store::segment_names_of(conn, project.id).await?)
}

pub async fn segments(
    conn: &mut SqliteConnection,
    project: &Project,
) -> AppResult<Vec<SegmentView>> {
    let uses = usage(&mut *conn, project).await?;
    Ok(store::segments_of(&mut *conn, project.id)
        .await?
        .into_iter()
        .map(|r| {
            let used = uses
                .iter()
                .filter(|(i, _)| *i == r.id)
                .map(|(_, u)| u.clone())
                .collect();
            segment_view(r, used)
        })
        .collect())
}

fn segment_not_found(project: &Project, id: i64) -> AppError {
    AppError::not_found(format!(
        "there is no segment {id} in the project {}",
        project.key
    ))
}

pub async fn segment(
    conn: &mut SqliteConnection,
    project: &Project,
    id: i64,
) -> AppResult<SegmentView> {
    let r = store::segment_by_id(&mut *conn, project.id, id)
        .await?
        .ok_or_else(|| segment_not_found(project, id))?;
    let used = segment_usage(conn, project, id).await?;
    Ok(segment_view(r, used))
}

/// The draft's name and description, checked, plus its constraints' problems.
async fn check_segment(
    conn: &mut SqliteConnection,
    project: &Project,
    draft: &SegmentDraft,
    id: Option<i64>,
) -> AppResult<(String, String)> {
    let mut errors: Vec<PathError> = Vec::new();
    let name = draft.name.trim().to_string();
    if name.is_empty() {
        errors.push(path_error("name", "a segment needs a name"));
    } else if name.chars().count() > 100 || name.chars().any(char::is_control) {
        errors.push(path_error(
            "name",
            "a name has at most 100 characters and no control characters",
        ));
    } else if let Some(other) = store::segment_by_name(conn, project.id, &name).await? {
        if Some(other.id) != id {
            errors.push(path_error(
                "name",
                format!("a segment named {name:?} already exists in this project"),
            ));
        }
    }
    let description = draft.description.trim().to_string();
    if description.chars().count() > 1000 {
        errors.push(path_error(
            "description",
            "a description has at most 1000 characters",
        ));
    }
    errors.extend(paths(validate_constraints(
        &draft.constraints,
        "constraints",
    )));
    if errors.is_empty() {
        Ok((name, description))
    } else {
        Err(AppError::InvalidPaths(errors))
    }
}

pub async fn create_segment(
    conn: &mut SqliteConnection,
    actor: &Actor,
    project: &Project,
    draft: SegmentDraft,
    now: DateTime<Utc>,
) -> AppResult<SegmentView> {
    let (name, description) = check_segment(&mut *conn, project, &draft, None).await?;
    let constraints = to_json(&draft.constraints)?;
    let id = store::insert_segment(
        &mut *conn,
        project.id,
        (&name, &description, &constraints),
        &stamp(now),
    )
    .await?;
    let view = segment(&mut *conn, project, id).await?;
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(
            "segment.created",
            format!("segment {}/{}", project.key, name),
        )
        .project(&project.key)
        .after(audit_segment(&view)),
        now,
    )
    .await?;
    Ok(view)
}

pub async fn update_segment(
    conn: &mut SqliteConnection,
    actor: &Actor,
    project: &Project,
    id: i64,
    draft: SegmentDraft,
    now: DateTime<Utc>,
) -> AppResult<SegmentView> {
    let before = segment(&mut *conn, project, id).await?;
    let (name, description) = check_segment(&mut *conn, project, &draft, Some(id)).await?;
    let constraints = to_json(&draft.constraints)?;
    store::update_segment(
        &mut *conn,
        id,
        (&name, &description, &constraints),
        &stamp(now),
    )
    .await?;
    let after = segment(&mut *conn, project, id).await?;
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(
            "segment.updated",
            format!("segment {}/{}", project.key, name),
        )
        .project(&project.key)
        .before(audit_segment(&before))
        .after(audit_segment(&after)),
        now,
    )
    .await?;
    Ok(after)
}

/// Deletes a segment no strategy uses; otherwise refuses, naming the flags that use it.
pub async fn delete_segment(
    conn: &mut SqliteConnection,
    actor: &Actor,
    project: &Project,
    id: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let before = segment(&mut *conn, project, id).await?;
    if !before.used_by.is_empty() {
        let mut flags: Vec<&str> = before.used_by.iter().map(|u| u.flag.as_str()).collect();
        flags.dedup();
        return Err(AppError::conflict(
            "segment-in-use",
            format!(
                "the segment {} is used by the flag{} {}; remove it from their strategies first",
                before.name,
                if flags.len() == 1 { "" } else { "s" },
                flags.join(", ")
            ),
        ));
    }
    store::delete_segment(&mut *conn, id).await?;
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(
            "segment.deleted",
            format!("segment {}/{}", project.key, before.name),
        )
        .project(&project.key)
        .before(audit_segment(&before)),
        now,
    )
    .await?;
    Ok(())
}

/// The value type a flag's variants must fit, for callers that only have the flag row.
pub fn value_type(s: &str) -> ValueType {
    store::value_type_of(s)
}

#[cfg(test)]
mod segment_id_tests {
    use super::segment_ids;

    #[test]
    fn segment_ids_are_read_from_every_strategy_whatever_else_it_holds() {
        let cases: [(&str, &[i64]); 7] = [
            (r#"[{"name":"default","segments":[]}]"#, &[]),
            (
                r#"[{"constraints":[{"values":["segments"]}],"segments":[]},{"segments":[3, 1]}]"#,
                &[3, 1],
            ),
            (r#"[{"name":"default"}]"#, &[]),
            (r#"[ { "segments" : [ 7 ] } ]"#, &[7]),
            (r#"[{"segments":null},{"segments":"2"}]"#, &[]),
            (r#"[5, {"segments":[4]}]"#, &[4]),
            ("not json", &[]),
        ];
        for (stored, ids) in cases {
            assert_eq!(segment_ids(stored), ids, "{stored}");
        }
    }
}
