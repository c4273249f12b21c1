//! Loading an Unleash client-API state (`{"version", "features", "segments"}`) into one project
//! and environment: flags, strategies, constraints, segments, variants, dependencies.
//!
//! Lossless on purpose: a peer's state is taken as it is (even rules our editor would refuse), so
//! the feed evaluates it exactly as Unleash would. Everything happens in the caller's transaction.

use super::store;
use crate::audit::{self, Actor, NewEntry};
use crate::catalog::flag::{check_key, FlagType};
use crate::catalog::store as catalog;
use crate::clock::stamp;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::projects::{Environment, Project};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use unleash_types::client_features::{ClientFeature, Constraint};

#[derive(Debug, Default)]
pub struct Summary {
    pub created: usize,
    pub updated: usize,
    pub segments: usize,
}

#[derive(Deserialize)]
struct RawSegment {
    id: i64,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    constraints: Vec<Constraint>,
}

pub async fn unleash_state(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    env: &Environment,
    state: &Value,
    now: DateTime<Utc>,
) -> AppResult<Summary> {
    let bad = |m: String| AppError::bad_request("invalid-import", m);
    let folded;
    let state = match state.get("events") {
        Some(events) => {
            folded = fold_events(events).map_err(bad)?;
            &folded
        }
        None => state,
    };
    let features: Vec<ClientFeature> = serde_json::from_value(
        state
            .get("features")
            .cloned()
            .unwrap_or(Value::Array(vec![])),
    )
    .map_err(|e| bad(format!("the features could not be read: {e}")))?;
    let segments: Vec<RawSegment> = serde_json::from_value(
        state
            .get("segments")
            .cloned()
            .unwrap_or(Value::Array(vec![])),
    )
    .map_err(|e| bad(format!("the segments could not be read: {e}")))?;
    for f in &features {
        check_key(
            &f.name,
            project.key_pattern.as_deref(),
            project.key_example.as_deref(),
        )
        .map_err(|m| bad(format!("the flag {:?} cannot be imported: {m}", f.name)))?;
    }
    let mut summary = Summary::default();
    let ids = import_segments(conn, actor, project, &segments, now).await?;
    summary.segments = ids.len();
    let raw = state
        .get("features")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (f, raw) in features.into_iter().zip(raw) {
        let created = import_feature(conn, actor, (project, env), (f, &raw), &ids, now).await?;
        if created {
            summary.created += 1;
        } else {
            summary.updated += 1;
        }
    }
    Ok(summary)
}

/// Creates or updates each segment by name, each audited (a segment is project-wide: the feed
/// reads the whole project again).
async fn import_segments(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    segments: &[RawSegment],
    now: DateTime<Utc>,
) -> AppResult<HashMap<i64, i64>> {
    let mut ids = HashMap::new();
    for s in segments {
        let name = s
            .name
            .clone()
            .unwrap_or_else(|| format!("segment-{}", s.id));
        let constraints = serde_json::to_string(&s.constraints).map_err(anyhow::Error::from)?;
        let id =
            store::upsert_segment(&mut *conn, project.id, &name, &constraints, &stamp(now)).await?;
        let entry = NewEntry::new(
            audit::Action::SegmentUpdated,
            format!("segment {name} in project {}", project.key),
        )
        .project(&project.key)
        .after(serde_json::json!({ "name": name, "constraints": s.constraints, "imported": true }));
        audit::append(&mut *conn, actor, entry, now).await?;
        ids.insert(s.id, id);
    }
    Ok(ids)
}

/// Returns true when the flag was created, false when an existing one was updated.
async fn import_feature(
    conn: &mut Conn,
    actor: &Actor,
    (project, env): (&Project, &Environment),
    // The typed feature, and its JSON as written in the file.
    (f, raw): (ClientFeature, &Value),
    segment_ids: &HashMap<i64, i64>,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    let flag_type = f
        .feature_type
        .as_deref()
        .and_then(FlagType::parse)
        .unwrap_or(FlagType::Release);
    let existing = catalog::flag_by_key(&mut *conn, project.id, &f.name).await?;
    let created = existing.is_none();
    let flag_id = match existing {
        Some(flag) => flag.id,
        None => {
            let new = catalog::NewFlag {
                key: &f.name,
                name: &f.name,
                description: f.description.as_deref().unwrap_or(""),
                flag_type: flag_type.as_str(),
                value_type: "boolean",
                owner_user_id: None,
                owner_team_id: None,
                created_by: &actor.label,
            };
            catalog::insert_flag(&mut *conn, project.id, &new, now)
                .await?
                .ok_or_else(|| {
                    AppError::conflict("flag-key-taken", format!("the flag {} exists", f.name))
                })?
        }
    };
    // The file's JSON is kept as written (an unknown operator must stay unknown, not become
    // whatever a typed round trip makes of it); only segment ids are pointed at ours.
    let mut strategies = raw
        .get("strategies")
        .cloned()
        .unwrap_or(Value::Array(vec![]));
    remap_segments(&mut strategies, segment_ids);
    let strategies = strategies.to_string();
    let variants = raw
        .get("variants")
        .cloned()
        .unwrap_or(Value::Array(vec![]))
        .to_string();
    let at = stamp(now);
    let targeting = (f.enabled, strategies.as_str(), variants.as_str());
    store::import_environment(&mut *conn, flag_id, env.id, targeting, &at).await?;
    if f.enabled {
        crate::lifecycle::store::mark_enabled(&mut *conn, flag_id, &at).await?;
    }
    store::revive_imported(&mut *conn, flag_id, f.impression_data.unwrap_or(false), &at).await?;
    let mut deps = Vec::new();
    for d in f.dependencies.iter().flatten() {
        let variants = serde_json::to_string(&d.variants.clone().unwrap_or_default())
            .map_err(anyhow::Error::from)?;
        deps.push((d.feature.clone(), d.enabled.unwrap_or(true), variants));
    }
    store::replace_dependencies(&mut *conn, flag_id, &deps).await?;
    audit::append(
        &mut *conn,
        actor,
        NewEntry::new(
            audit::Action::FlagImported,
            format!("flag {}/{} in {}", project.key, f.name, env.key),
        )
        .project(&project.key)
        .flag(&f.name)
        .environment(&env.key)
        .after(serde_json::json!({
            "enabled": f.enabled, "strategies": f.strategies, "variants": f.variants,
            "dependencies": f.dependencies, "created": created,
        })),
        now,
    )
    .await?;
    Ok(created)
}

/// A delta stream (`{"events": [...]}`, Unleash's streaming shape) folded into the state it
/// describes: hydration replaces everything, updates replace by name or id, removals remove.
pub fn fold_events(events: &Value) -> Result<Value, String> {
    let events = events.as_array().ok_or("`events` must be a list")?;
    let mut features: Vec<Value> = Vec::new();
    let mut segments: Vec<Value> = Vec::new();
    let name_of = |v: &Value| v.get("name").and_then(Value::as_str).map(str::to_string);
    for e in events {
        match e.get("type").and_then(Value::as_str).unwrap_or("") {
            "hydration" => {
                features = e
                    .get("features")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                segments = e
                    .get("segments")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
            }
            "feature-updated" => {
                let f = e
                    .get("feature")
                    .cloned()
                    .ok_or("a feature-updated event has no feature")?;
                let name = name_of(&f);
                features.retain(|x| name_of(x) != name);
                features.push(f);
            }
            "feature-removed" => {
                let name = e
                    .get("featureName")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                features.retain(|x| name_of(x) != name);
            }
            "segment-updated" => {
                let s = e
                    .get("segment")
                    .cloned()
                    .ok_or("a segment-updated event has no segment")?;
                let id = s.get("id").cloned();
                segments.retain(|x| x.get("id").cloned() != id);
                segments.push(s);
            }
            "segment-removed" => {
                let id = e.get("segmentId").cloned();
                segments.retain(|x| x.get("id").cloned() != id);
            }
            other => return Err(format!("unknown event type {other:?}")),
        }
    }
    Ok(serde_json::json!({ "version": 2, "features": features, "segments": segments }))
}

/// Points the segment ids of a strategy list (as written in a file) at the ids they got here;
/// an id the file does not define becomes -1, which no segment has, so the strategy stays off.
pub fn remap_segments(strategies: &mut Value, segment_ids: &HashMap<i64, i64>) {
    for s in strategies.as_array_mut().into_iter().flatten() {
        if let Some(segs) = s.get_mut("segments").and_then(Value::as_array_mut) {
            for id in segs.iter_mut() {
                let ours = id
                    .as_i64()
                    .and_then(|i| segment_ids.get(&i))
                    .copied()
                    .unwrap_or(-1);
                *id = Value::from(ours);
            }
        }
    }
}
