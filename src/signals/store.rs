//! SQL for signals: series, their minute points, the retention sweep, and the usage tables read
//! as evaluation counters.

use crate::db::Conn;

/// A series as stored, with its environment's key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SeriesRow {
    pub id: i64,
    pub environment_id: i64,
    pub environment: String,
    pub app_name: String,
    pub name: String,
    pub kind: String,
    pub labels: String,
}

/// One stored point: counters use `count`, gauges `count` and `sum`, histograms all three.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PointRow {
    pub series_id: i64,
    pub at: String,
    pub count: i64,
    pub sum: f64,
    pub buckets: Option<String>,
}

/// The series' id and kind, if it exists.
pub async fn find_series(
    conn: &mut Conn,
    environment_id: i64,
    app_name: &str,
    name: &str,
    labels: &str,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    crate::db::query_as(
        "select id, kind from signal_series \
         where environment_id = ? and app_name = ? and name = ? and labels = ?",
    )
    .bind(environment_id)
    .bind(app_name)
    .bind(name)
    .bind(labels)
    .fetch_optional(conn)
    .await
}

/// How many series the project of `environment_id` holds, in all its environments.
pub async fn project_series_count(
    conn: &mut Conn,
    environment_id: i64,
) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "select count(*) from signal_series s join environments e on e.id = s.environment_id \
         where e.project_id = (select project_id from environments where id = ?)",
    )
    .bind(environment_id)
    .fetch_one(conn)
    .await
}

pub async fn insert_series(
    conn: &mut Conn,
    environment_id: i64,
    app_name: &str,
    name: &str,
    kind: &str,
    labels: &str,
    now: &str,
) -> Result<i64, sqlx::Error> {
    crate::db::query_scalar(
        "insert into signal_series (environment_id, app_name, name, kind, labels, created_at, last_at) \
         values (?, ?, ?, ?, ?, ?, ?) returning id",
    )
    .bind(environment_id)
    .bind(app_name)
    .bind(name)
    .bind(kind)
    .bind(labels)
    .bind(now)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// Notes the series' latest point, which the retention sweep reads.
pub async fn touch_series(conn: &mut Conn, id: i64, at: &str) -> Result<(), sqlx::Error> {
    crate::db::query("update signal_series set last_at = ? where id = ? and last_at < ?")
        .bind(at)
        .bind(id)
        .bind(at)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Adds `count` and `sum` to the point (a counter's increments, a gauge's readings).
pub async fn add_to_point(
    conn: &mut Conn,
    series_id: i64,
    at: &str,
    count: i64,
    sum: f64,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "insert into signal_points (series_id, at, count, sum) values (?, ?, ?, ?) \
         on conflict (series_id, at) do update set \
         count = signal_points.count + excluded.count, sum = signal_points.sum + excluded.sum",
    )
    .bind(series_id)
    .bind(at)
    .bind(count)
    .bind(sum)
    .execute(conn)
    .await
    .map(|_| ())
}

/// The histogram point's buckets, for merging a new observation set into it.
pub async fn histogram_point(
    conn: &mut Conn,
    series_id: i64,
    at: &str,
) -> Result<Option<PointRow>, sqlx::Error> {
    crate::db::query_as(
        "select series_id, at, count, sum, buckets from signal_points where series_id = ? and at = ?",
    )
    .bind(series_id)
    .bind(at)
    .fetch_optional(conn)
    .await
}

pub async fn put_histogram_point(
    conn: &mut Conn,
    series_id: i64,
    at: &str,
    count: i64,
    sum: f64,
    buckets: &str,
) -> Result<(), sqlx::Error> {
    crate::db::query(
        "insert into signal_points (series_id, at, count, sum, buckets) values (?, ?, ?, ?, ?) \
         on conflict (series_id, at) do update set \
         count = excluded.count, sum = excluded.sum, buckets = excluded.buckets",
    )
    .bind(series_id)
    .bind(at)
    .bind(count)
    .bind(sum)
    .bind(buckets)
    .execute(conn)
    .await
    .map(|_| ())
}

/// The project's series, optionally of one environment and one name.
pub async fn series_of_project(
    conn: &mut Conn,
    project_id: i64,
    environment_id: Option<i64>,
    name: Option<&str>,
) -> Result<Vec<SeriesRow>, sqlx::Error> {
    crate::db::query_as(
        "select s.id, s.environment_id, e.key as environment, s.app_name, s.name, s.kind, s.labels \
         from signal_series s join environments e on e.id = s.environment_id \
         where e.project_id = ? and (? is null or s.environment_id = ?) and (? is null or s.name = ?) \
         order by e.sort_order, s.name, s.app_name, s.labels",
    )
    .bind(project_id)
    .bind(environment_id)
    .bind(environment_id)
    .bind(name)
    .bind(name)
    .fetch_all(conn)
    .await
}

/// The series of one metric in one environment, for a guard.
pub async fn series_named(
    conn: &mut Conn,
    environment_id: i64,
    name: &str,
) -> Result<Vec<SeriesRow>, sqlx::Error> {
    crate::db::query_as(
        "select s.id, s.environment_id, e.key as environment, s.app_name, s.name, s.kind, s.labels \
         from signal_series s join environments e on e.id = s.environment_id \
         where s.environment_id = ? and s.name = ?",
    )
    .bind(environment_id)
    .bind(name)
    .fetch_all(conn)
    .await
}

/// Points of the series `id` from `since` (a stamp) on, oldest first.
pub async fn points_since(
    conn: &mut Conn,
    series_id: i64,
    since: &str,
) -> Result<Vec<PointRow>, sqlx::Error> {
    crate::db::query_as(
        "select series_id, at, count, sum, buckets from signal_points \
         where series_id = ? and at >= ? order by at",
    )
    .bind(series_id)
    .bind(since)
    .fetch_all(conn)
    .await
}

/// Points of every series of one metric in one environment from `since` on, by series then
/// time: one read where a guard pass watches many label sets of the same metric.
pub async fn points_of_name_since(
    conn: &mut Conn,
    environment_id: i64,
    name: &str,
    since: &str,
) -> Result<Vec<PointRow>, sqlx::Error> {
    crate::db::query_as(
        "select p.series_id, p.at, p.count, p.sum, p.buckets from signal_points p \
         join signal_series s on s.id = p.series_id \
         where s.environment_id = ? and s.name = ? and p.at >= ? order by p.series_id, p.at",
    )
    .bind(environment_id)
    .bind(name)
    .bind(since)
    .fetch_all(conn)
    .await
}

/// Deletes points before `before` and series with no point since; returns the points deleted.
pub async fn prune(conn: &mut Conn, before: &str) -> Result<u64, sqlx::Error> {
    let points = crate::db::query("delete from signal_points where at < ?")
        .bind(before)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    crate::db::query("delete from signal_series where last_at < ?")
        .bind(before)
        .execute(&mut *conn)
        .await?;
    Ok(points)
}

/// The feed's evaluation counts of a flag in one environment from `since` on: (hour, yes, no).
pub async fn evaluation_hours(
    conn: &mut Conn,
    environment_id: i64,
    flag_key: &str,
    since: &str,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    crate::db::query_as(
        "select hour, yes, no from usage_hourly \
         where environment_id = ? and flag_key = ? and hour >= ? order by hour",
    )
    .bind(environment_id)
    .bind(flag_key)
    .bind(since)
    .fetch_all(conn)
    .await
}

/// The same per variant: (hour, variant, count).
pub async fn variant_hours(
    conn: &mut Conn,
    environment_id: i64,
    flag_key: &str,
    since: &str,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    crate::db::query_as(
        "select hour, variant, count from usage_variants_hourly \
         where environment_id = ? and flag_key = ? and hour >= ? order by variant, hour",
    )
    .bind(environment_id)
    .bind(flag_key)
    .bind(since)
    .fetch_all(conn)
    .await
}
