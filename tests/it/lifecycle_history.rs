//! A project's lifecycle over time (issue 12): the lifecycle page's numbers (created and archived
//! per month, the median days to archive), the daily stale count the lifecycle job records, and
//! the catalog's stage filter.

use crate::retirement::{eventually, flag_path, status_json};
use crate::support::clock::TestClock;
use crate::support::{TestApp, ADMIN_EMAIL, PROJECT};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// The project's lifecycle page counts flags created and archived per month (archives as
/// audited) and the median days from creation to archive, in its charts' tables.
#[tokio::test]
async fn the_lifecycle_page_counts_created_and_archived_per_month_and_the_median() {
    let clock = TestClock::at("2026-01-10T10:00:00Z");
    let app = TestApp::spawn_with_env(&[clock.env()]).await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "a").await;
    admin.api.new_flag(PROJECT, "b").await;
    clock.set(crate::support::parse_time("2026-02-15T10:00:00Z"));
    admin.api.new_flag(PROJECT, "c").await;
    clock.set(crate::support::parse_time("2026-02-20T10:00:00Z"));
    assert_eq!(
        admin.api.archive(PROJECT, "a").await.status(),
        StatusCode::OK
    );
    clock.set(crate::support::parse_time("2026-03-05T10:00:00Z"));
    for key in ["b", "c"] {
        assert_eq!(
            admin.api.archive(PROJECT, key).await.status(),
            StatusCode::OK
        );
    }
    clock.set(crate::support::parse_time("2026-03-10T10:00:00Z"));
    let browser = app.signed_in(ADMIN_EMAIL).await;
    let html = browser
        .get(&format!("/projects/{PROJECT}/lifecycle"))
        .await
        .text()
        .await
        .unwrap();
    let row = |month: &str, created: i64, archived: i64| {
        format!(
            "<tr><th scope=\"row\">{month}</th><td class=\"num\">{created}</td>\
             <td class=\"num\">{archived}</td></tr>"
        )
    };
    for (month, created, archived) in [
        ("December 2025", 0, 0),
        ("January 2026", 2, 0),
        ("February 2026", 1, 1),
        ("March 2026", 0, 2),
    ] {
        assert!(
            html.contains(&row(month, created, archived)),
            "{month}: {html}"
        );
    }
    // Waits of 41 (a), 54 (b) and 18 (c) days.
    assert!(html.contains(">41 days</span>"), "{html}");
    assert!(html.contains("(3 archives)"), "{html}");
    assert!(html.contains("<svg") && html.contains("role=\"img\""));
    assert!(
        html.contains("3 created, 3 archived"),
        "the chart's text alternative"
    );
    // Linked from the project page.
    let overview = browser
        .get(&format!("/projects/{PROJECT}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(overview.contains(&format!("href=\"/projects/{PROJECT}/lifecycle\"")));
}

async fn recorded_days(app: &TestApp) -> Vec<(String, i64, i64, i64)> {
    let mut sql = app.sql().await;
    switchyard::db::query_as(
        "select day, stale_flags, live_flags, total_flags from project_stale_counts \
         order by day",
    )
    .fetch_all(&mut sql)
    .await
    .unwrap()
}

/// The lifecycle job records each project's stale count once per day: later runs the same day
/// leave that day as first counted, the next day gets its own row, and nothing is backfilled.
#[tokio::test]
async fn the_daily_stale_count_is_written_once_per_day() {
    let clock = TestClock::at("2026-03-02T09:00:00Z");
    let app =
        TestApp::spawn_with_env(&[clock.env(), ("SWITCHYARD_LIFECYCLE_INTERVAL_SECONDS", "1")])
            .await;
    let admin = app.admin();
    admin.api.new_flag(PROJECT, "orphan").await;
    eventually("the first count of the day", || async {
        !recorded_days(&app).await.is_empty()
    })
    .await;
    let first = recorded_days(&app).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].0, "2026-03-02");
    assert_eq!(first[0].1, 0, "nothing stale yet");

    // Later the same day the flag turns stale (no owner, no grace): the job runs again and
    // stores that, but the day keeps its first count.
    let settings = format!("/api/admin/projects/{PROJECT}/lifecycle");
    let r = admin
        .api
        .send(Method::PUT, &settings, Some(&json!({"graceDays": 0})))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    clock.set(clock.day(0) + chrono::Duration::hours(3));
    eventually("the job stores the flag as stale", || async {
        let listed: Value = admin
            .api
            .flags(PROJECT, "stale=true")
            .await
            .json()
            .await
            .unwrap();
        listed["flags"].as_array().is_some_and(|f| f.len() == 1)
    })
    .await;
    assert_eq!(
        recorded_days(&app).await,
        first,
        "still the day's first count"
    );

    // The next day gets its own row; the day between nothing recorded stays absent.
    clock.set_day(2);
    eventually("the next day's count", || async {
        recorded_days(&app).await.len() == 2
    })
    .await;
    let days = recorded_days(&app).await;
    assert_eq!(days[1], ("2026-03-04".to_string(), 1, 1, 1), "{days:?}");
    let browser = app.signed_in(ADMIN_EMAIL).await;
    let html = browser
        .get(&format!("/projects/{PROJECT}/lifecycle"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("2 days recorded"), "{html}");
    assert!(
        html.contains("<tr><th scope=\"row\">2026-03-04</th><td class=\"num\">1</td>"),
        "{html}"
    );
    assert!(!html.contains("2026-03-03</th>"), "no backfill: {html}");
    let overview = browser
        .get(&format!("/projects/{PROJECT}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        overview.contains("0 %"),
        "health: the one live flag is stale: {overview}"
    );
}

/// The catalog's lifecycle column and `stage=` filter (alias `lifecycle=`), in the project's
/// catalog, the cross-project one and the API list; `stage=archived` finds archived flags
/// without also asking for `archived=archived`.
#[tokio::test]
async fn the_catalog_filters_by_stage_everywhere() {
    let app = TestApp::spawn().await;
    let admin = app.admin();
    for key in ["done", "gone", "fresh"] {
        admin.api.new_flag(PROJECT, key).await;
    }
    let path = format!("{}/complete", flag_path("done"));
    let (status, _) = status_json(
        admin
            .api
            .send(Method::POST, &path, Some(&json!({"outcome": "discarded"})))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        admin.api.archive(PROJECT, "gone").await.status(),
        StatusCode::OK
    );
    for (query, keys) in [
        ("stage=completed", vec!["done"]),
        ("stage=archived", vec!["gone"]),
        ("lifecycle=initial", vec!["fresh"]),
        ("stage=live", vec![]),
    ] {
        let listed: Value = admin.api.flags(PROJECT, query).await.json().await.unwrap();
        let got: Vec<&str> = listed["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["key"].as_str().unwrap())
            .collect();
        assert_eq!(got, keys, "API ?{query}");
    }
    let browser = app.signed_in(ADMIN_EMAIL).await;
    let link = |key: &str| format!("href=\"/projects/{PROJECT}/flags/{key}\"");
    for page in [format!("/projects/{PROJECT}/flags"), "/flags".to_string()] {
        let html = browser
            .get(&format!("{page}?stage=completed"))
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains(&link("done")), "{page}: {html}");
        assert!(!html.contains(&link("fresh")), "{page}");
        assert!(
            html.contains("class=\"badge stage-completed\""),
            "{page}: the column"
        );
        let html = browser
            .get(&format!("{page}?stage=archived"))
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains(&link("gone")), "{page}: {html}");
        assert!(!html.contains(&link("done")), "{page}");
    }
}
