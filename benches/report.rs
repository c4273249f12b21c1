//! The weekly cleanup report over 10,000 flags with a year of history (issue 12: under 2 s):
//! `cargo bench --bench report` (release build). Not a test: it prints figures.
//!
//! It builds a project in a temporary SQLite file: 10,000 flags created over the past year by
//! ten owners, two teams and nobody, in three environments with a mix of targeting (off, on for
//! everyone, a 50 % rollout, a constraint, two variants); about eleven audited switches per flag
//! through the real audit chain; SDKs connected all year; monthly usage rows (the last months
//! of some flags have none); and last week's kept report. It then times the report computed
//! now, keeping this week's report, and the three renderings.

use chrono::{DateTime, Duration, Utc};
use std::time::Instant;
use switchyard::audit::{self, Action, Actor, NewEntry};
use switchyard::clock::stamp;
use switchyard::lifecycle::report::{self, kept, render};

/// 10,000 unless `BENCH_REPORT_FLAGS` says otherwise (a quick check of the bench itself).
fn flag_count() -> usize {
    std::env::var("BENCH_REPORT_FLAGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

fn now() -> DateTime<Utc> {
    switchyard::clock::parse_stamp("2031-06-02T10:00:00Z").unwrap()
}

async fn seed(db: &switchyard::db::Db) -> anyhow::Result<switchyard::projects::Project> {
    let now = now();
    let start = now - Duration::days(365);
    let mut tx = switchyard::db::begin_write(db).await?;
    let project = switchyard::projects::store::insert_project(&mut tx, "bench", "Bench", "", start)
        .await?
        .expect("a new project");
    let envs = switchyard::projects::store::environments(&mut tx, project.id).await?;
    for i in 0..10 {
        switchyard::db::query(
            "insert into users (email, name, password_hash, created_at, updated_at) \
             values (?, ?, 'x', ?, ?)",
        )
        .bind(format!("owner{i}@example.com"))
        .bind(format!("Owner {i}"))
        .bind(stamp(start))
        .bind(stamp(start))
        .execute(&mut *tx)
        .await?;
    }
    for (i, key) in ["payments", "growth"].iter().enumerate() {
        switchyard::db::query("insert into teams (key, name, created_at) values (?, ?, ?)")
            .bind(key)
            .bind(key.to_uppercase())
            .bind(stamp(start))
            .execute(&mut *tx)
            .await?;
        switchyard::db::query("insert into team_members (team_id, user_id) values (?, ?)")
            .bind(i64::try_from(i).unwrap_or(0) + 1)
            .bind(2)
            .execute(&mut *tx)
            .await?;
    }
    let targeting = [
        r#"[{"name":"flexibleRollout","parameters":{"rollout":"100","stickiness":"default","groupId":"g"}}]"#,
        r#"[{"name":"flexibleRollout","parameters":{"rollout":"50","stickiness":"default","groupId":"g"}}]"#,
        r#"[{"name":"default","constraints":[{"contextName":"country","operator":"IN","values":["DE"]}]}]"#,
        "[]",
    ];
    let two_variants = r#"[{"name":"blue","weight":500,"stickiness":"default"},{"name":"red","weight":500,"stickiness":"default"}]"#;
    let system = Actor::system("bench");
    for i in 0..flag_count() {
        // Spread over the year, whatever the count.
        let step = 525_000 / i64::try_from(flag_count()).unwrap_or(1).max(1);
        let created = start + Duration::minutes(i64::try_from(i).unwrap_or(0) * step);
        let key = format!("flag-{i:05}");
        let flag_type = ["release", "experiment", "operational", "kill-switch"][i % 4];
        let (owner_user, owner_team) = match i % 13 {
            0 => (None, None),
            1 => (None, Some(1)),
            2 => (None, Some(2)),
            n => (Some(i64::try_from(n % 10).unwrap_or(0) + 1), None),
        };
        let id: i64 = switchyard::db::query_scalar(
            "insert into flags (project_id, key, name, flag_type, value_type, owner_user_id, \
             owner_team_id, created_by, created_at, updated_at, first_enabled_at) \
             values (?, ?, ?, ?, 'boolean', ?, ?, 'bench', ?, ?, ?) returning id",
        )
        .bind(project.id)
        .bind(&key)
        .bind(format!("Flag {i}"))
        .bind(flag_type)
        .bind(owner_user)
        .bind(owner_team)
        .bind(stamp(created))
        .bind(stamp(created))
        .bind(stamp(created + Duration::days(1)))
        .fetch_one(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            &system,
            NewEntry::new(Action::FlagCreated, format!("flag bench/{key}"))
                .project("bench")
                .flag(&key),
            created,
        )
        .await?;
        let age_days = (now - created).num_days().max(1);
        for (e, env) in envs.iter().enumerate() {
            let on = (i + e) % 3 != 0;
            let strategies = targeting[(i / 3 + e) % targeting.len()];
            let variants = if i % 17 == 0 { two_variants } else { "[]" };
            switchyard::db::query(
                "insert into flag_environments (flag_id, environment_id, enabled, strategies, \
                 variants, updated_at) values (?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(env.id)
            .bind(on)
            .bind(strategies)
            .bind(variants)
            .bind(stamp(created + Duration::days(age_days / 2)))
            .execute(&mut *tx)
            .await?;
            // Switched on and off a few times over its life, the last switch leaving it as is.
            for s in 0..4 {
                let at = created + Duration::days(age_days * (s + 1) / 5);
                let action = if (s % 2 == 0) == on {
                    Action::FlagEnabled
                } else {
                    Action::FlagDisabled
                };
                audit::append(
                    &mut tx,
                    &system,
                    NewEntry::new(action, format!("flag bench/{key}"))
                        .project("bench")
                        .flag(&key)
                        .environment(&env.key),
                    at,
                )
                .await?;
            }
            // Evaluated monthly until a while ago (flags whose usage stopped look unused).
            let stop = if i % 5 == 0 { 60 } else { 0 };
            let mut month = created;
            while month < now - Duration::days(stop) {
                switchyard::db::query(
                    "insert into usage_hourly (environment_id, flag_key, hour, yes, no) \
                     values (?, ?, ?, 10, 5)",
                )
                .bind(env.id)
                .bind(&key)
                .bind(stamp(month))
                .execute(&mut *tx)
                .await?;
                month += Duration::days(30);
            }
        }
    }
    for env in &envs {
        switchyard::db::query(
            "insert into client_applications (environment_id, app_name, instance_id, \
             first_seen, last_seen) values (?, 'shop', 'i-1', ?, ?)",
        )
        .bind(env.id)
        .bind(stamp(start))
        .bind(stamp(now))
        .execute(&mut *tx)
        .await?;
    }
    // The seed runs before any feed exists: nothing to tell.
    #[allow(clippy::disallowed_methods)]
    tx.commit().await?;
    Ok(project)
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    println!("{what}: {:.0} ms", t.elapsed().as_secs_f64() * 1000.0);
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("switchyard-report-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let db = switchyard::db::connect(&url).await?;
    let writes = switchyard::db::Writes::unobserved(db.clone());
    let t = Instant::now();
    let project = seed(&db).await?;
    let (entries, usage): (i64, i64) = switchyard::db::query_as(
        "select (select count(*) from audit_log), (select count(*) from usage_hourly)",
    )
    .fetch_one(&db)
    .await?;
    println!(
        "seeded {} flags, {entries} audit entries, {usage} usage rows in {:.1} s",
        flag_count(),
        t.elapsed().as_secs_f64()
    );
    let last_week = report::iso_week(now() - Duration::days(7));
    kept::generate(&writes, &project, &last_week, now() - Duration::days(7)).await?;

    let mut runs = Vec::new();
    let mut current = None;
    for _ in 0..3 {
        let t = Instant::now();
        let mut conn = db.acquire().await?;
        current = Some(report::current(&mut conn, &project, now()).await?);
        runs.push(t.elapsed().as_secs_f64());
    }
    runs.sort_by(f64::total_cmp);
    let r = current.expect("a report");
    println!(
        "report computed now (median of 3): {:.0} ms; {} stale of {} flags, {} owner groups, {} newly stale",
        runs[1] * 1000.0,
        r.totals.stale,
        r.totals.flags,
        r.owners.len(),
        r.changes.newly_stale.len()
    );
    let t = Instant::now();
    {
        let mut conn = db.acquire().await?;
        switchyard::lifecycle::assess::project(&mut conn, &project, now()).await?;
    }
    println!(
        "of which assessing every flag (the stale rules, shared with the catalog's job): {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let week = report::iso_week(now());
    let t = Instant::now();
    let id = kept::generate(&writes, &project, &week, now()).await?;
    println!(
        "keep this week's report (compute, store, audit, webhook): {:.0} ms (report {id:?})",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let reports = [r];
    let md = timed("render Markdown", || {
        render::render(&reports, render::Format::Markdown, true)
    });
    let csv = timed("render CSV", || {
        render::render(&reports, render::Format::Csv, true)
    });
    let json = timed("render JSON", || {
        render::render(&reports, render::Format::Json, true)
    });
    println!(
        "sizes: Markdown {} KiB, CSV {} KiB, JSON {} KiB",
        md.len() / 1024,
        csv.len() / 1024,
        json.len() / 1024
    );
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
