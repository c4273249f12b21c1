//! SQL for usage: the hourly counts and variant counts the feed writes and the pages read, and
//! connected SDKs.

use crate::db::{Conn, QueryBuilder};
use serde::Serialize;
use std::collections::HashMap;

/// An SDK instance seen reporting now; a blank SDK version keeps the one it had.
pub async fn record_application(
    conn: &mut Conn,
    environment_id: i64,
    app_name: &str,
    instance_id: &str,
    sdk_version: &str,
    seen: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "insert into client_applications (environment_id, app_name, instance_id, sdk_version, first_seen, last_seen) \
         values (?, ?, ?, ?, ?, ?) on conflict (environment_id, app_name, instance_id) do update set \
         last_seen = excluded.last_seen, sdk_version = case when excluded.sdk_version = '' \
         then client_applications.sdk_version else excluded.sdk_version end",
    )
    .bind(environment_id)
    .bind(app_name)
    .bind(instance_id)
    .bind(sdk_version)
    .bind(seen)
    .bind(seen)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds evaluations of a flag to its hour.
pub async fn add_hour(
    conn: &mut Conn,
    environment_id: i64,
    flag_key: &str,
    hour: &str,
    yes: i64,
    no: i64,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "insert into usage_hourly (environment_id, flag_key, hour, yes, no) values (?, ?, ?, ?, ?) \
         on conflict (environment_id, flag_key, hour) do update set \
         yes = usage_hourly.yes + excluded.yes, no = usage_hourly.no + excluded.no",
    )
    .bind(environment_id)
    .bind(flag_key)
    .bind(hour)
    .bind(yes)
    .bind(no)
    .execute(conn)
    .await?;
    Ok(())
}

/// Adds answers of one variant of a flag to its hour.
pub async fn add_variant_hour(
    conn: &mut Conn,
    environment_id: i64,
    (flag_key, variant): (&str, &str),
    hour: &str,
    count: i64,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "insert into usage_variants_hourly (environment_id, flag_key, hour, variant, count) \
         values (?, ?, ?, ?, ?) on conflict (environment_id, flag_key, hour, variant) \
         do update set count = usage_variants_hourly.count + excluded.count",
    )
    .bind(environment_id)
    .bind(flag_key)
    .bind(hour)
    .bind(variant)
    .bind(count)
    .execute(conn)
    .await?;
    Ok(())
}

/// One hour of one environment's evaluations of a flag.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HourRow {
    pub environment_id: i64,
    pub hour: String,
    pub yes: i64,
    pub no: i64,
}

/// An SDK instance that reported to one of the project's environments.
#[derive(Debug, Clone, sqlx::FromRow, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub environment: String,
    pub environment_protected: bool,
    pub app_name: String,
    pub instance_id: String,
    pub sdk_version: String,
    pub first_seen: String,
    pub last_seen: String,
}

/// The flag's hourly counts in the project's environments from `since` (a stamp) on.
pub async fn hours_since(
    conn: &mut Conn,
    project_id: i64,
    flag_key: &str,
    since: &str,
) -> Result<Vec<HourRow>, sqlx::Error> {
    crate::db::query_as(
        "select u.environment_id, u.hour, u.yes, u.no from usage_hourly u \
         join environments e on e.id = u.environment_id \
         where e.project_id = ? and u.flag_key = ? and u.hour >= ? \
         order by u.hour",
    )
    .bind(project_id)
    .bind(flag_key)
    .bind(since)
    .fetch_all(conn)
    .await
}

/// The last hour with any report of the flag, per environment, however long ago.
pub async fn last_hours(
    conn: &mut Conn,
    project_id: i64,
    flag_key: &str,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    crate::db::query_as(
        "select u.environment_id, max(u.hour) from usage_hourly u \
         join environments e on e.id = u.environment_id \
         where e.project_id = ? and u.flag_key = ? and (u.yes > 0 or u.no > 0) \
         group by u.environment_id",
    )
    .bind(project_id)
    .bind(flag_key)
    .fetch_all(conn)
    .await
}

/// Variant counts of the flag from `since` on: (environment id, variant, count), most used first.
pub async fn variants_since(
    conn: &mut Conn,
    project_id: i64,
    flag_key: &str,
    since: &str,
) -> Result<Vec<(i64, String, i64)>, sqlx::Error> {
    crate::db::query_as(
        "select v.environment_id, v.variant, cast(sum(v.count) as bigint) as n from usage_variants_hourly v \
         join environments e on e.id = v.environment_id \
         where e.project_id = ? and v.flag_key = ? and v.hour >= ? \
         group by v.environment_id, v.variant having sum(v.count) > 0 \
         order by n desc, v.variant",
    )
    .bind(project_id)
    .bind(flag_key)
    .bind(since)
    .fetch_all(conn)
    .await
}

/// SDK instances of the project's environments, most recently seen first.
pub async fn applications(
    conn: &mut Conn,
    project_id: i64,
    limit: i64,
) -> Result<Vec<Application>, sqlx::Error> {
    crate::db::query_as(
        "select e.key as environment, e.protected as environment_protected, a.app_name, a.instance_id, a.sdk_version, a.first_seen, \
           a.last_seen from client_applications a \
         join environments e on e.id = a.environment_id \
         where e.project_id = ? \
         order by a.last_seen desc, a.app_name, a.instance_id limit ?",
    )
    .bind(project_id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The last hour each of `flags` (project id, key) was evaluated in any environment of its
/// project: one indexed look-up per environment and key (`usage_hourly`'s primary key).
pub async fn last_seen_of(
    conn: &mut Conn,
    flags: &[(i64, &str)],
) -> Result<HashMap<(i64, String), String>, sqlx::Error> {
    if flags.is_empty() {
        return Ok(HashMap::new());
    }
    let mut projects: Vec<i64> = flags.iter().map(|(p, _)| *p).collect();
    projects.sort_unstable();
    projects.dedup();
    let mut q: QueryBuilder = QueryBuilder::new(
        "select e.project_id, u.flag_key, max(u.hour) from usage_hourly u \
         join environments e on e.id = u.environment_id \
         where (u.yes > 0 or u.no > 0) and u.environment_id in \
         (select id from environments where project_id in (",
    );
    let mut sep = q.separated(", ");
    for p in &projects {
        sep.push_bind(*p);
    }
    q.push(")) and u.flag_key in (");
    let mut sep = q.separated(", ");
    for (_, key) in flags {
        sep.push_bind(key.to_string());
    }
    q.push(") group by e.project_id, u.flag_key");
    let rows: Vec<(i64, String, String)> = q.build_query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(|(p, k, h)| ((p, k), h)).collect())
}

/// How long a replica counts among those sharing the SDK post allowance after its last renewal.
const REPLICA_LEASE_SECS: u64 = 3;

/// Renews this replica's place among those sharing the SDK post allowance; writes its posts per
/// token in `minute` (its whole count so far, not an increment, so a write that failed and is
/// repeated counts nothing twice); and returns how many replicas share the allowance now.
pub async fn share_posts(
    conn: &mut Conn,
    replica: &str,
    minute: i64,
    posts: &[(i64, i64)],
) -> Result<i64, sqlx::Error> {
    let backend = conn.backend();
    crate::db::query(&format!(
        "insert into sdk_post_replicas (replica, expires) values (?, {}) \
         on conflict (replica) do update set expires = excluded.expires",
        backend.stamp_in(REPLICA_LEASE_SECS)
    ))
    .bind(replica)
    .execute(&mut *conn)
    .await?;
    // 4 values a row: well inside either database's limit of bound values per statement.
    for batch in posts.chunks(1_000) {
        let mut q =
            QueryBuilder::new("insert into sdk_post_counts (minute, token_id, replica, posts) ");
        q.push_values(batch, |mut row, (token, n)| {
            row.push_bind(minute)
                .push_bind(*token)
                .push_bind(replica.to_string())
                .push_bind(*n);
        });
        q.push(" on conflict (minute, token_id, replica) do update set posts = excluded.posts");
        q.build().execute(&mut *conn).await?;
    }
    crate::db::query_scalar(&format!(
        "select count(*) from sdk_post_replicas where expires > {}",
        backend.now_stamp()
    ))
    .fetch_one(conn)
    .await
}

/// The other replicas' posts per token in `minute`, summed.
pub async fn others_posts(
    conn: &mut Conn,
    replica: &str,
    minute: i64,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    crate::db::query_as(
        "select token_id, cast(sum(posts) as bigint) from sdk_post_counts \
         where minute = ? and replica <> ? group by token_id",
    )
    .bind(minute)
    .bind(replica)
    .fetch_all(conn)
    .await
}

/// Forgets post counts before `minute` and replicas whose place has expired.
pub async fn prune_posts(conn: &mut Conn, minute: i64) -> Result<(), sqlx::Error> {
    let backend = conn.backend();
    crate::db::query("delete from sdk_post_counts where minute < ?")
        .bind(minute)
        .execute(&mut *conn)
        .await?;
    crate::db::query(&format!(
        "delete from sdk_post_replicas where expires < {}",
        backend.now_stamp()
    ))
    .execute(conn)
    .await?;
    Ok(())
}
