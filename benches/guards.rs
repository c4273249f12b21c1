//! Guard evaluation for 1,000 running release plans in one pass (issue 13: under 50 ms), on a
//! real SQLite file in a temp folder: `cargo bench --bench guards`.
//!
//! Two shapes of the same 1,000 plans, each with two guards (an error ratio over 5 minutes and a
//! request rate over 10), over 30 minutes of per-minute points:
//! - shared: every plan watches the service's own metrics (the usual case: one error ratio for
//!   the service that the flags change), so a pass reads each series once;
//! - per flag: plans watch series labelled with their flag (500 label sets of each metric, the
//!   most a project may hold, two plans each), the worst case for reads.
//!
//! A pass is what the job does each second when nothing changes: read every watched plan and
//! its guards' state, read the points, aggregate, decide (`rollout::watch::read_pass`).

use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use switchyard::audit::Actor;
use switchyard::clock::stamp;
use switchyard::rollout::store::{insert_plan, NewPlan};
use switchyard::rollout::watch;
use switchyard::signals::{Sample, SampleValue};

const PLANS: usize = 1_000;

fn guards(labels: &BTreeMap<String, String>) -> String {
    serde_json::json!([
        {"metric": "http_errors", "aggregation": "ratio", "denominator": "http_requests",
         "labels": labels, "threshold": 1.5, "relativeToBaseline": true,
         "windowSeconds": 300, "sustainSeconds": 120},
        {"metric": "http_requests", "aggregation": "rate", "labels": labels,
         "threshold": 10000.0, "windowSeconds": 600, "sustainSeconds": 60}
    ])
    .to_string()
}

async fn setup(per_flag: bool, now: DateTime<Utc>) -> (tempfile::TempDir, switchyard::db::Db) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let db = switchyard::db::connect(&url).await.unwrap();
    let mut tx = switchyard::db::begin_write(&db).await.unwrap();
    let actor = Actor::system("bench");
    let project = switchyard::projects::service::create(&mut tx, &actor, "bench", "Bench", "", now)
        .await
        .unwrap();
    let env = switchyard::projects::store::environment(&mut tx, project.id, "production")
        .await
        .unwrap()
        .unwrap();
    let milestones =
        serde_json::json!([{"name": "10 %", "strategies": [], "holdMinutes": 60}]).to_string();
    let mut samples = Vec::new();
    let series: Vec<BTreeMap<String, String>> = if per_flag {
        // A project holds at most 1,000 series: 500 label sets of two metrics, two plans each.
        (0..PLANS / 2)
            .map(|i| {
                [("flag".to_string(), format!("flag-{i}"))]
                    .into_iter()
                    .collect()
            })
            .collect()
    } else {
        vec![BTreeMap::new()]
    };
    for labels in &series {
        for minute in 0..30 {
            let at = now - TimeDelta::minutes(minute);
            for (name, n) in [("http_requests", 1000), ("http_errors", 7)] {
                samples.push(Sample {
                    environment_id: env.id,
                    app_name: "shop".into(),
                    name: name.into(),
                    labels: labels.clone(),
                    at,
                    value: SampleValue::Counter(n),
                });
            }
        }
    }
    let done = switchyard::signals::record(&mut tx, &samples, now)
        .await
        .unwrap();
    assert!(done.iter().all(Result::is_ok), "samples refused");
    for i in 0..PLANS {
        let labels = if per_flag {
            series[i / 2].clone()
        } else {
            BTreeMap::new()
        };
        let key = format!("flag-{i}");
        let plan = NewPlan {
            project_id: project.id,
            environment_id: env.id,
            flag_key: &key,
            template_key: "gradual",
            template_name: "Gradual",
            milestones: &milestones,
            guards: &guards(&labels),
            baselines: "[0.007, 1000.0]",
            on_breach: "previous",
            auto_advance: false,
            started_by: "bench",
        };
        insert_plan(&mut tx, &plan, &stamp(now)).await.unwrap();
    }
    #[allow(clippy::disallowed_methods)] // a bench's own setup, no feed to tell
    tx.commit().await.unwrap();
    (dir, db)
}

async fn measure(label: &str, per_flag: bool) {
    let now: DateTime<Utc> = "2030-06-01T12:00:30Z".parse().unwrap();
    let (_dir, db) = setup(per_flag, now).await;
    let mut conn = db.acquire().await.unwrap();
    let first = watch::read_pass(&mut conn, now).await.unwrap();
    assert_eq!(first.len(), PLANS);
    let passes = 20;
    let mut times = Vec::with_capacity(passes);
    for _ in 0..passes {
        let start = Instant::now();
        let decided = watch::read_pass(&mut conn, now).await.unwrap();
        times.push(start.elapsed());
        assert!(decided
            .iter()
            .all(|(_, d)| matches!(d, watch::Decision::Nothing)));
    }
    // The part that reads the points, alone.
    let start = Instant::now();
    let rows = switchyard::rollout::store::watched_plans(&mut conn)
        .await
        .unwrap();
    let plans: Vec<_> = rows
        .into_iter()
        .map(switchyard::rollout::Plan::from_row)
        .collect();
    let listed = start.elapsed();
    let mut guards = Vec::new();
    for p in &plans {
        guards.extend(p.guards.iter().map(|g| (p.row.environment_id, g)));
    }
    let mut cache = switchyard::rollout::check::PointCache::default();
    let start = Instant::now();
    cache.prepare(&mut conn, guards, now).await.unwrap();
    let read = start.elapsed();
    times.sort();
    let mean = times.iter().sum::<Duration>() / passes as u32;
    println!(
        "{label:<44} {PLANS} plans, 2 guards each: mean {:>7.1} ms, median {:>7.1} ms, max {:>7.1} ms per pass",
        mean.as_secs_f64() * 1e3,
        times[passes / 2].as_secs_f64() * 1e3,
        times[passes - 1].as_secs_f64() * 1e3
    );
    println!(
        "{:<44} of which listing the plans {:.1} ms, reading the points {:.1} ms",
        "",
        listed.as_secs_f64() * 1e3,
        read.as_secs_f64() * 1e3
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        measure("guard pass, shared service metrics", false).await;
        measure("guard pass, series per flag (500 label sets)", true).await;
    });
}
