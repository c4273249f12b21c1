//! Reading series back: for the admin API, for a guard (the points of one metric in one
//! environment, narrowed by app and labels), and the feed's evaluation counts as counters.

use super::histogram::Histogram;
use super::{store, Kind, Point, PointValue, EVALUATIONS};
use crate::clock::{parse_stamp, stamp};
use crate::db::Conn;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Series {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Kind,
    pub environment: String,
    /// None when the sender named no application.
    pub app_name: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub points: Vec<Point>,
}

/// What `GET /api/admin/projects/{p}/signals` asks for.
pub struct SeriesQuery<'a> {
    pub environment_id: Option<i64>,
    pub name: Option<&'a str>,
    pub since: DateTime<Utc>,
}

fn point(kind: Kind, row: store::PointRow) -> Option<Point> {
    let at = parse_stamp(&row.at)?;
    let value = match kind {
        Kind::Counter => PointValue::Counter(row.count),
        Kind::Gauge => PointValue::Gauge {
            count: row.count,
            sum: row.sum,
        },
        Kind::Histogram => PointValue::Histogram(Histogram {
            count: row.count,
            sum: row.sum,
            buckets: serde_json::from_str(row.buckets.as_deref()?).ok()?,
        }),
    };
    Some(Point { at, value })
}

async fn with_points(
    conn: &mut Conn,
    row: store::SeriesRow,
    since: &str,
) -> Result<Option<Series>, sqlx::Error> {
    let Some(kind) = Kind::parse(&row.kind) else {
        return Ok(None);
    };
    let points = store::points_since(&mut *conn, row.id, since).await?;
    Ok(Some(Series {
        name: row.name,
        kind,
        environment: row.environment,
        app_name: Some(row.app_name).filter(|a| !a.is_empty()),
        labels: serde_json::from_str(&row.labels).unwrap_or_default(),
        points: points.into_iter().filter_map(|p| point(kind, p)).collect(),
    }))
}

/// The project's series with their points since `q.since`; series with no point in that time
/// are left out.
pub async fn series(
    conn: &mut Conn,
    project_id: i64,
    q: &SeriesQuery<'_>,
) -> Result<Vec<Series>, sqlx::Error> {
    let rows = store::series_of_project(&mut *conn, project_id, q.environment_id, q.name).await?;
    let since = stamp(q.since);
    let mut out = Vec::new();
    for row in rows {
        if let Some(s) = with_points(conn, row, &since).await? {
            if !s.points.is_empty() {
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// Every series of the metric `name` in the environment with its points since `since` (series
/// without any left out), in two reads: what a guard pass filters by label set.
pub async fn series_named(
    conn: &mut Conn,
    environment_id: i64,
    name: &str,
    since: DateTime<Utc>,
) -> Result<Vec<Series>, sqlx::Error> {
    let rows = store::series_named(&mut *conn, environment_id, name).await?;
    let mut points: BTreeMap<i64, Vec<store::PointRow>> = BTreeMap::new();
    for p in store::points_of_name_since(&mut *conn, environment_id, name, &stamp(since)).await? {
        points.entry(p.series_id).or_default().push(p);
    }
    let mut out = Vec::new();
    for row in rows {
        let (Some(kind), Some(rows)) = (Kind::parse(&row.kind), points.remove(&row.id)) else {
            continue;
        };
        out.push(Series {
            name: row.name,
            kind,
            environment: row.environment,
            app_name: Some(row.app_name).filter(|a| !a.is_empty()),
            labels: serde_json::from_str(&row.labels).unwrap_or_default(),
            points: rows.into_iter().filter_map(|p| point(kind, p)).collect(),
        });
    }
    Ok(out)
}

/// Every point of the metric `name` in the environment since `since`, from the series of `app`
/// (any app when None) whose labels include all of `labels`: what a guard aggregates.
pub async fn guard_points(
    conn: &mut Conn,
    environment_id: i64,
    name: &str,
    app: Option<&str>,
    labels: &BTreeMap<String, String>,
    since: DateTime<Utc>,
) -> Result<Vec<Point>, sqlx::Error> {
    let rows = store::series_named(&mut *conn, environment_id, name).await?;
    let since = stamp(since);
    let mut out = Vec::new();
    for row in rows {
        if app.is_some_and(|a| a != row.app_name) {
            continue;
        }
        let own: BTreeMap<String, String> = serde_json::from_str(&row.labels).unwrap_or_default();
        if labels.iter().any(|(k, v)| own.get(k) != Some(v)) {
            continue;
        }
        if let Some(s) = with_points(conn, row, &since).await? {
            out.extend(s.points);
        }
    }
    out.sort_by_key(|p| p.at);
    Ok(out)
}

/// The feed's evaluations of `flag` in the environment since `since`, as counter series of
/// [`EVALUATIONS`] at hour resolution: labels `{flag, enabled: "true"|"false"}`, and one series
/// per variant `{flag, variant}`. Read from the usage tables: nothing is stored twice.
pub async fn evaluations(
    conn: &mut Conn,
    environment_id: i64,
    environment: &str,
    flag: &str,
    since: DateTime<Utc>,
) -> Result<Vec<Series>, sqlx::Error> {
    let since = stamp(since);
    let hours = store::evaluation_hours(&mut *conn, environment_id, flag, &since).await?;
    let variants = store::variant_hours(&mut *conn, environment_id, flag, &since).await?;
    let series = |labels: [(&str, &str); 2], points: Vec<Point>| Series {
        name: EVALUATIONS.into(),
        kind: Kind::Counter,
        environment: environment.into(),
        app_name: None,
        labels: labels
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        points,
    };
    let counter = |hour: &str, n: i64| {
        parse_stamp(hour).map(|at| Point {
            at,
            value: PointValue::Counter(n),
        })
    };
    let yes = hours
        .iter()
        .filter_map(|(h, y, _)| counter(h, *y))
        .collect();
    let no = hours
        .iter()
        .filter_map(|(h, _, n)| counter(h, *n))
        .collect();
    let mut out = vec![
        series([("enabled", "true"), ("flag", flag)], yes),
        series([("enabled", "false"), ("flag", flag)], no),
    ];
    let mut by_variant: BTreeMap<&str, Vec<Point>> = BTreeMap::new();
    for (hour, variant, n) in &variants {
        if let Some(p) = counter(hour, *n) {
            by_variant.entry(variant).or_default().push(p);
        }
    }
    for (variant, points) in by_variant {
        out.push(series([("flag", flag), ("variant", variant)], points));
    }
    Ok(out)
}
