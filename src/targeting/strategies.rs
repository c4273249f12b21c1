//! Editing targeting per flag and environment: strategies and flag-level variants. Validation
//! is the evaluation engine's (`crate::evaluation::validate_*`), so nothing is stored that the
//! engine would misread; what this module adds is the stored shape (concrete variant weights,
//! default parameters). Validate, change, audit — inside the caller's transaction.

use super::store::{self, Column};
use crate::audit::{self, Actor, NewEntry};
use crate::catalog::service::live_flag;
use crate::clock::stamp;
use crate::db::Conn;
use crate::error::{AppError, AppResult, PathError};
use crate::evaluation::{
    normalize_weights, validate_strategies, validate_variants, FieldError, StrategyDraft,
    ValueType, VariantDraft,
};
use crate::projects::{Environment, Project};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashSet;
use unleash_types::client_features::WeightType;

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
pub(super) fn paths(errors: Vec<FieldError>) -> Vec<PathError> {
    errors
        .into_iter()
        .map(|e| PathError {
            field: e.field,
            message: e.message,
        })
        .collect()
}

pub(super) fn path_error(field: impl Into<String>, message: impl Into<String>) -> PathError {
    PathError {
        field: field.into(),
        message: message.into(),
    }
}

pub(super) fn to_json<T: Serialize>(v: &T) -> AppResult<String> {
    Ok(serde_json::to_string(v).map_err(anyhow::Error::from)?)
}

pub(super) fn json_list(text: &str) -> Vec<Value> {
    serde_json::from_str(text).unwrap_or_default()
}

pub async fn targeting(
    conn: &mut Conn,
    project: &Project,
    flag_key: &str,
    env: &Environment,
) -> AppResult<Targeting> {
    let flag = crate::catalog::store::flag_by_key(&mut *conn, project.id, flag_key)
        .await?
        .ok_or_else(|| crate::catalog::service::flag_not_found(project, flag_key))?;
    read_targeting(conn, flag.id, &flag.key, env).await
}

pub(super) async fn read_targeting(
    conn: &mut Conn,
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
pub(super) fn stored_variants(
    variants: &[VariantDraft],
    flag_level: bool,
) -> AppResult<Vec<Value>> {
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
pub(super) fn stored_strategy(s: &StrategyDraft, flag_key: &str) -> AppResult<Value> {
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
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    flag_key: &str,
    env: &Environment,
    strategies: Vec<StrategyDraft>,
    now: DateTime<Utc>,
) -> AppResult<Targeting> {
    let flag = live_flag(&mut *conn, project, flag_key).await?;
    let value_type = ValueType::of_stored(&flag.value_type);
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
            audit::Action::FlagStrategiesReplaced,
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
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    flag_key: &str,
    env: &Environment,
    variants: Vec<VariantDraft>,
    now: DateTime<Utc>,
) -> AppResult<Targeting> {
    let flag = live_flag(&mut *conn, project, flag_key).await?;
    let value_type = ValueType::of_stored(&flag.value_type);
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
            audit::Action::FlagVariantsReplaced,
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
