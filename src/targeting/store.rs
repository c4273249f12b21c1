//! SQL of targeting: reading an environment's whole Unleash-shaped state for the feed.

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

// ---------- Editing ----------

/// One environment's stored targeting of one flag.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TargetingRow {
    pub enabled: bool,
    pub strategies: String,
    pub variants: String,
    pub version: i64,
    pub updated_at: String,
}

pub async fn targeting_of(
    conn: &mut Conn,
    flag_id: i64,
    environment_id: i64,
) -> Result<Option<TargetingRow>, sqlx::Error> {
    crate::db::query_as(
        "select enabled, strategies, variants, version, updated_at from flag_environments \
         where flag_id = ? and environment_id = ?",
    )
    .bind(flag_id)
    .bind(environment_id)
    .fetch_optional(conn)
    .await
}

/// Which column of `flag_environments` a replacement writes.
#[derive(Debug, Clone, Copy)]
pub enum Column {
    Strategies,
    Variants,
}

/// Stores one JSON column and bumps the row's version.
pub async fn set_targeting(
    conn: &mut Conn,
    flag_id: i64,
    environment_id: i64,
    column: Column,
    json: &str,
    now: &str,
) -> Result<(), sqlx::Error> {
    let sql = match column {
        Column::Strategies => {
            "update flag_environments set strategies = ?, version = version + 1, updated_at = ? \
             where flag_id = ? and environment_id = ?"
        }
        Column::Variants => {
            "update flag_environments set variants = ?, version = version + 1, updated_at = ? \
             where flag_id = ? and environment_id = ?"
        }
    };
    crate::db::query(sql)
        .bind(json)
        .bind(now)
        .bind(flag_id)
        .bind(environment_id)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Dependency {
    pub parent_key: String,
    pub enabled: bool,
    /// JSON list of variant names.
    pub variants: String,
}

pub async fn dependencies_of(
    conn: &mut Conn,
    flag_id: i64,
) -> Result<Vec<Dependency>, sqlx::Error> {
    crate::db::query_as(
        "select parent_key, enabled, variants from flag_dependencies where flag_id = ? \
         order by parent_key",
    )
    .bind(flag_id)
    .fetch_all(conn)
    .await
}

/// Keys of the project's flags that depend on `parent_key`.
pub async fn children_of(
    conn: &mut Conn,
    project_id: i64,
    parent_key: &str,
) -> Result<Vec<String>, sqlx::Error> {
    crate::db::query_scalar(
        "select f.key from flag_dependencies d join flags f on f.id = d.flag_id \
         where f.project_id = ? and d.parent_key = ? order by f.key",
    )
    .bind(project_id)
    .bind(parent_key)
    .fetch_all(conn)
    .await
}

/// Bumps the flag's version, so that a change request proposed on the old one sees the
/// conflict.
pub async fn touch_flag(conn: &mut Conn, flag_id: i64, now: &str) -> Result<(), sqlx::Error> {
    crate::db::query("update flags set version = version + 1, updated_at = ? where id = ?")
        .bind(now)
        .bind(flag_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn replace_dependencies(
    conn: &mut Conn,
    flag_id: i64,
    deps: &[(String, bool, String)],
) -> Result<(), sqlx::Error> {
    crate::db::query("delete from flag_dependencies where flag_id = ?")
        .bind(flag_id)
        .execute(&mut *conn)
        .await?;
    for (parent, enabled, variants) in deps {
        crate::db::query(
            "insert into flag_dependencies (flag_id, parent_key, enabled, variants) values (?, ?, ?, ?) \
             on conflict (flag_id, parent_key) do update set enabled = excluded.enabled, \
             variants = excluded.variants",
        )
        .bind(flag_id)
        .bind(parent)
        .bind(enabled)
        .bind(variants)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SegmentRecord {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// JSON constraint list.
    pub constraints: String,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

const SEGMENT_COLUMNS: &str = "id, name, description, constraints, version, created_at, updated_at";

pub async fn segments_of(
    conn: &mut Conn,
    project_id: i64,
) -> Result<Vec<SegmentRecord>, sqlx::Error> {
    crate::db::query_as(&format!(
        "select {SEGMENT_COLUMNS} from segments where project_id = ? order by name, id"
    ))
    .bind(project_id)
    .fetch_all(conn)
    .await
}

/// The project's segments as (id, name), for pickers.
pub async fn segment_names_of(
    conn: &mut Conn,
    project_id: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    crate::db::query_as("select id, name from segments where project_id = ? order by name, id")
        .bind(project_id)
        .fetch_all(conn)
        .await
}

pub async fn segment_by_id(
    conn: &mut Conn,
    project_id: i64,
    id: i64,
) -> Result<Option<SegmentRecord>, sqlx::Error> {
    crate::db::query_as(&format!(
        "select {SEGMENT_COLUMNS} from segments where project_id = ? and id = ?"
    ))
    .bind(project_id)
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn segment_by_name(
    conn: &mut Conn,
    project_id: i64,
    name: &str,
) -> Result<Option<SegmentRecord>, sqlx::Error> {
    crate::db::query_as(&format!(
        "select {SEGMENT_COLUMNS} from segments where project_id = ? and name = ?"
    ))
    .bind(project_id)
    .bind(name)
    .fetch_optional(conn)
    .await
}

pub async fn insert_segment(
    conn: &mut Conn,
    project_id: i64,
    (name, description, constraints): (&str, &str, &str),
    now: &str,
) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "insert into segments (project_id, name, description, constraints, created_at, updated_at) \
         values (?, ?, ?, ?, ?, ?) returning id",
    )
    .bind(project_id)
    .bind(name)
    .bind(description)
    .bind(constraints)
    .bind(now)
    .bind(now)
    .fetch_one(conn)
    .await
}

pub async fn update_segment(
    conn: &mut Conn,
    id: i64,
    (name, description, constraints): (&str, &str, &str),
    now: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update segments set name = ?, description = ?, constraints = ?, version = version + 1, \
         updated_at = ? where id = ?",
    )
    .bind(name)
    .bind(description)
    .bind(constraints)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete_segment(conn: &mut Conn, id: i64) -> Result<(), sqlx::Error> {
    crate::db::query("delete from segments where id = ?")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The stored strategies of the flag environments in a project that may reference a segment,
/// archived flags included: (flag key, environment key, protected, strategies JSON).
///
/// Rows whose every `"segments"` key holds an empty list are left out in SQL, so a page that
/// counts segment uses parses the few rows that have some rather than every flag's targeting.
/// The test only ever keeps too much, never too little: once the empty lists are taken out, a
/// `"segments"` left in any shape (a list of ids, spaces around it, a string value) keeps the
/// row. `replace` and `like` are plain SQL. Only the rows of the partial index
/// `flag_environments_using_segments` (migration 0093, with this very condition) are read, then
/// joined to their flag (`cross join` fixes that order).
pub async fn strategies_using_segments(
    conn: &mut Conn,
    project_id: i64,
) -> Result<Vec<(String, String, bool, String)>, sqlx::Error> {
    crate::db::query_as(STRATEGIES_USING_SEGMENTS)
        .bind(project_id)
        .fetch_all(conn)
        .await
}

const STRATEGIES_USING_SEGMENTS: &str = "select f.key, e.key, e.protected, fe.strategies \
     from flag_environments fe cross join flags f cross join environments e \
     where f.id = fe.flag_id and e.id = fe.environment_id and f.project_id = ? \
     and replace(fe.strategies, '\"segments\":[]', '') like '%\"segments\"%' \
     order by f.key, e.sort_order, e.key";

// ---------- Importing ----------

/// Creates the segment, or replaces the constraints of the one of that name; its id.
pub async fn upsert_segment(
    conn: &mut Conn,
    project_id: i64,
    name: &str,
    constraints: &str,
    now: &str,
) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "insert into segments (project_id, name, constraints, created_at, updated_at) \
         values (?, ?, ?, ?, ?) on conflict (project_id, name) do update set \
         constraints = excluded.constraints, updated_at = excluded.updated_at, \
         version = segments.version + 1 returning id",
    )
    .bind(project_id)
    .bind(name)
    .bind(constraints)
    .bind(now)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// An imported flag's state in one environment: (enabled, strategies JSON, variants JSON).
pub async fn import_environment(
    conn: &mut Conn,
    flag_id: i64,
    environment_id: i64,
    (enabled, strategies, variants): (bool, &str, &str),
    now: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update flag_environments set enabled = ?, strategies = ?, variants = ?, \
         version = version + 1, updated_at = ? where flag_id = ? and environment_id = ?",
    )
    .bind(enabled)
    .bind(strategies)
    .bind(variants)
    .bind(now)
    .bind(flag_id)
    .bind(environment_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// An imported flag is live again (an import of an archived key revives it).
pub async fn revive_imported(
    conn: &mut Conn,
    flag_id: i64,
    impression_data: bool,
    now: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "update flags set impression_data = ?, archived_at = null, updated_at = ? where id = ?",
    )
    .bind(impression_data)
    .bind(now)
    .bind(flag_id)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The segments list reads the rows that may name a segment through their partial index, not
    /// every flag's targeting: the query's condition must stay the index's.
    #[tokio::test]
    async fn segment_uses_are_read_through_their_partial_index() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("plan.db").display());
        let db = crate::db::connect(&url).await.unwrap();
        let explain = format!("explain query plan {}", super::STRATEGIES_USING_SEGMENTS);
        let rows: Vec<(i64, i64, i64, String)> = crate::db::query_as(&explain)
            .bind(1)
            .fetch_all(&db)
            .await
            .unwrap();
        let plan: Vec<String> = rows.into_iter().map(|r| r.3).collect();
        let through_index = "USING INDEX flag_environments_using_segments";
        assert!(plan.iter().any(|s| s.contains(through_index)), "{plan:?}");
    }
}
