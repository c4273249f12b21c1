//! Reading an environment's whole Unleash-shaped state for the feed, and segments' constraints.

use crate::db::Conn;
use crate::evaluation::ValueType;
use serde::de::DeserializeOwned;
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
    /// The lifecycle assessment found it stale (and no snooze covers it).
    stale: bool,
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

/// Each segment's constraints, as JSON, by id.
pub async fn segment_constraints(
    conn: &mut Conn,
    project_id: i64,
) -> Result<HashMap<i64, serde_json::Value>, sqlx::Error> {
    let segments: Vec<SegmentRow> = crate::db::query_as(
        "select id, constraints from segments where project_id = ? order by id",
    )
    .bind(project_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(segments
        .into_iter()
        .map(|s| {
            let key = s.id.to_string();
            (
                s.id,
                parse::<serde_json::Value>("segment", &key, &s.constraints),
            )
        })
        .collect())
}

/// One environment's flags as an Unleash client-API state, plus each flag's value type.
pub async fn environment_state(
    conn: &mut Conn,
    project_id: i64,
    project_key: &str,
    environment_id: i64,
) -> Result<(ClientFeatures, HashMap<String, ValueType>), sqlx::Error> {
    let (features, value_types) =
        environment_flags(conn, project_id, project_key, environment_id, None).await?;
    let segments: Vec<SegmentRow> = crate::db::query_as(
        "select id, constraints from segments where project_id = ? order by id",
    )
    .bind(project_id)
    .fetch_all(&mut *conn)
    .await?;
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

/// The flags named in `only` (all of them when None) as they are served in one environment,
/// sorted by key, with their value types; archived and unknown keys are left out.
pub async fn environment_flags(
    conn: &mut Conn,
    project_id: i64,
    project_key: &str,
    environment_id: i64,
    only: Option<&[String]>,
) -> Result<(Vec<ClientFeature>, HashMap<String, ValueType>), sqlx::Error> {
    // The keys travel as one JSON parameter, so any number of them is a single statement.
    let keys = only.map(|keys| serde_json::json!(keys).to_string());
    let sql = format!(
        "select f.id, f.key, f.description, f.flag_type, f.value_type, f.impression_data, \
         fe.enabled, fe.strategies, fe.variants, coalesce(a.stale, false) as stale from flags f \
         join flag_environments fe on fe.flag_id = f.id and fe.environment_id = ?1 \
         left join flag_assessments a on a.flag_id = f.id \
         where f.project_id = ?2 and f.archived_at is null \
         and (?3 is null or f.key in ({})) order by f.key",
        conn.backend().json_texts("?3")
    );
    let rows: Vec<FeedFlagRow> = crate::db::query_as(&sql)
        .bind(environment_id)
        .bind(project_id)
        .bind(&keys)
        .fetch_all(&mut *conn)
        .await?;
    let sql = format!(
        "select d.flag_id, d.parent_key, d.enabled, d.variants from flag_dependencies d \
         join flags f on f.id = d.flag_id where f.project_id = ?1 \
         and (?2 is null or f.key in ({})) order by d.parent_key",
        conn.backend().json_texts("?2")
    );
    let deps: Vec<DependencyRow> = crate::db::query_as(&sql)
        .bind(project_id)
        .bind(&keys)
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
            value_types.insert(r.key.clone(), ValueType::of_stored(&r.value_type));
            let strategies: Vec<Strategy> = parse("strategies", &r.key, &r.strategies);
            let variants: Vec<Variant> = parse("variants", &r.key, &r.variants);
            ClientFeature {
                name: r.key.clone(),
                feature_type: Some(r.flag_type),
                description: Some(r.description),
                created_at: None,
                last_seen_at: None,
                enabled: r.enabled,
                stale: Some(r.stale),
                impression_data: Some(r.impression_data),
                project: Some(project_key.to_string()),
                strategies: Some(strategies),
                variants: Some(variants),
                dependencies: by_flag.remove(&r.id),
            }
        })
        .collect();
    Ok((features, value_types))
}
