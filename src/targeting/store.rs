//! SQL of targeting: reading an environment's whole Unleash-shaped state for the feed.

use crate::evaluation::ValueType;
use serde::de::DeserializeOwned;
use sqlx::SqliteConnection;
use std::collections::HashMap;
use unleash_types::client_features::{
    ClientFeature, ClientFeatures, Constraint, FeatureDependency, Segment, Strategy, Variant,
};

#[derive(sqlx::FromRow)]
struct FeedFlagRow {
    id: i64,
    key: String,
    description: String,
    flag_type: String,
    value_type: String,
    impression_data: bool,
    enabled: bool,
    strategies: String,
    variants: String,
}

#[derive(sqlx::FromRow)]
struct DependencyRow {
    flag_id: i64,
    parent_key: String,
    enabled: bool,
    variants: String,
}

#[derive(sqlx::FromRow)]
struct SegmentRow {
    id: i64,
    constraints: String,
}

/// Stored JSON was validated on the way in; if it still can't be read, leave the item out and
/// say so in the log rather than serve a half-understood rule.
fn parse<T: DeserializeOwned + Default>(what: &str, key: &str, json: &str) -> T {
    serde_json::from_str(json).unwrap_or_else(|e| {
        tracing::error!(flag = %key, error = %e, "stored {what} could not be read");
        T::default()
    })
}

/// One environment's flags as an Unleash client-API state, plus each flag's value type.
pub async fn environment_state(
    conn: &mut SqliteConnection,
    project_id: i64,
    project_key: &str,
    environment_id: i64,
) -> Result<(ClientFeatures, HashMap<String, ValueType>), sqlx::Error> {
    let rows: Vec<FeedFlagRow> = sqlx::query_as(
        "select f.id, f.key, f.description, f.flag_type, f.value_type, f.impression_data, \
         fe.enabled, fe.strategies, fe.variants from flags f \
         join flag_environments fe on fe.flag_id = f.id and fe.environment_id = ? \
         where f.project_id = ? and f.archived_at is null order by f.key",
    )
    .bind(environment_id)
    .bind(project_id)
    .fetch_all(&mut *conn)
    .await?;
    let deps: Vec<DependencyRow> = sqlx::query_as(
        "select d.flag_id, d.parent_key, d.enabled, d.variants from flag_dependencies d \
         join flags f on f.id = d.flag_id where f.project_id = ? order by d.parent_key",
    )
    .bind(project_id)
    .fetch_all(&mut *conn)
    .await?;
    let segments: Vec<SegmentRow> =
        sqlx::query_as("select id, constraints from segments where project_id = ? order by id")
            .bind(project_id)
            .fetch_all(&mut *conn)
            .await?;

    let mut by_flag: HashMap<i64, Vec<FeatureDependency>> = HashMap::new();
    for d in deps {
        let variants: Vec<String> = parse("dependency variants", &d.parent_key, &d.variants);
        by_flag
            .entry(d.flag_id)
            .or_default()
            .push(FeatureDependency {
                feature: d.parent_key,
                enabled: Some(d.enabled),
                variants: (!variants.is_empty()).then_some(variants),
            });
    }
    let mut value_types = HashMap::new();
    let features = rows
        .into_iter()
        .map(|r| {
            value_types.insert(r.key.clone(), value_type(&r.value_type));
            let strategies: Vec<Strategy> = parse("strategies", &r.key, &r.strategies);
            let variants: Vec<Variant> = parse("variants", &r.key, &r.variants);
            ClientFeature {
                name: r.key.clone(),
                feature_type: Some(r.flag_type),
                description: Some(r.description),
                created_at: None,
                last_seen_at: None,
                enabled: r.enabled,
                stale: Some(false),
                impression_data: Some(r.impression_data),
                project: Some(project_key.to_string()),
                strategies: Some(strategies),
                variants: Some(variants),
                dependencies: by_flag.remove(&r.id),
            }
        })
        .collect();
    let segments = segments
        .into_iter()
        .map(|s| Segment {
            id: s.id as i32,
            constraints: parse::<Vec<Constraint>>("segment", &s.id.to_string(), &s.constraints),
        })
        .collect();
    Ok((
        ClientFeatures {
            version: 2,
            features,
            segments: Some(segments),
            query: None,
            meta: None,
        },
        value_types,
    ))
}

fn value_type(s: &str) -> ValueType {
    match s {
        "string" => ValueType::String,
        "number" => ValueType::Number,
        "json" => ValueType::Json,
        _ => ValueType::Boolean,
    }
}
