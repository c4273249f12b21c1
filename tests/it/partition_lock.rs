//! A replica cut off by a network partition while it holds the write lock (issue 10, points 2
//! and 3). Every PostgreSQL write holds a transaction-scoped advisory lock; PostgreSQL cannot
//! tell that a silent replica is gone, so the lock stays held, with the transaction that took it,
//! until the server ends that session (`idle_in_transaction_session_timeout`, see
//! `PG_SESSION_SETTINGS` in `src/db`). Meanwhile another replica's writes are refused plainly and
//! promptly rather than left waiting; then they go through, and nothing the cut-off transaction
//! wrote is kept. On PostgreSQL only: the test returns at once on SQLite.

use crate::support::fresh::EmptyDatabase;
use crate::support::partition::Partition;
use crate::support::{
    assert_success, cli_on, feed_enabled as enabled, on_postgres, TestApp, PROJECT,
};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Connection;
use std::time::{Duration, Instant};

/// A generous bound for what must not hang: any one write's answer.
const PROMPTLY: Duration = Duration::from_secs(10);

/// What PostgreSQL is given to end the cut-off session (its 10 s idle-in-transaction timeout),
/// with room for a loaded machine.
const RELEASED_WITHIN: Duration = Duration::from_secs(30);

/// How many sessions hold an advisory lock on the database at `url` (the write lock is the only
/// one the server takes).
async fn advisory_locks(url: &str) -> i64 {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar(
        "select count(*) from pg_locks l join pg_database d on d.oid = l.database \
         where d.datname = current_database() and l.locktype = 'advisory' and l.granted",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

async fn features(base: &str, token: &str) -> Value {
    let r = reqwest::Client::new()
        .get(format!("{base}/api/client/features"))
        .header("Authorization", token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

// Multi-threaded: the forwarder keeps forwarding while the test blocks on starting the servers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_cut_off_holding_the_write_lock_holds_up_the_others_writes_only_until_postgres_ends_its_session(
) {
    if !on_postgres() {
        return;
    }
    // Replica A reaches the suite's PostgreSQL through a forwarder, replica B directly.
    let db = EmptyDatabase::new();
    let (link, through_link) = Partition::in_front_of(&db.url).await;
    let a = TestApp::spawn_on(&through_link).await;
    let b = a.replica_on(&db.url).await;
    let admin = a.admin();
    admin.api.new_flag(PROJECT, "caught").await;
    admin.api.new_flag(PROJECT, "later").await;
    let token = a.feed_token("client", PROJECT, "development");
    let on_b = b.api(&admin.api);

    // A switch through A, cut off just before its commit: its transaction has switched the flag,
    // appended to the audit log and holds the write lock, and A falls silent.
    link.cut_before(b"COMMIT\0");
    let in_flight = tokio::spawn({
        let api = admin.api.clone();
        async move {
            let start = Instant::now();
            let r = api.toggle(PROJECT, "caught", "development", true).await;
            (r.status(), start.elapsed())
        }
    });
    let deadline = Instant::now() + PROMPTLY;
    while !link.is_cut() {
        assert!(
            Instant::now() < deadline,
            "the switch through A never committed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cut = Instant::now();
    assert_eq!(
        advisory_locks(&db.url).await,
        1,
        "A's transaction holds the write lock"
    );

    // B's writes: refused with a 503 while the lock is held, each promptly, then accepted.
    let mut refused = 0;
    loop {
        let start = Instant::now();
        let r = tokio::time::timeout(
            3 * PROMPTLY,
            on_b.toggle(PROJECT, "later", "development", true),
        )
        .await
        .expect("B's switch was not answered at all");
        let took = start.elapsed();
        let status = r.status();
        let text = r.text().await.unwrap();
        eprintln!(
            "B's switch {:?} after the cut: {status} in {took:?}",
            cut.elapsed()
        );
        assert!(took < PROMPTLY, "B's switch took {took:?}");
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
        let answer: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(answer["error"], "database-unavailable", "{answer}");
        refused += 1;
        assert!(
            cut.elapsed() < RELEASED_WITHIN,
            "B's switches still refused {:?} after the cut",
            cut.elapsed()
        );
    }
    assert!(refused > 0, "B wrote while A's transaction held the lock");

    // A's own switch was refused as well: its commit went unanswered.
    let (status, took) = in_flight.await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(took < PROMPTLY, "A's switch took {took:?}");

    // Nothing of A's transaction was kept: the flag is off and the log does not name the switch;
    // B's switch is served and the audit chain is whole.
    let body = features(&b.base, &token).await;
    assert_eq!(enabled(&body, "later"), Some(true), "{body}");
    assert_eq!(enabled(&body, "caught"), Some(false), "{body}");
    assert_eq!(on_b.audit_actions("flag=caught").await, ["flag.created"]);
    assert_success(&cli_on(&db.url, &["audit", "verify"], None), "audit verify");
    drop((a, b, link));
}
