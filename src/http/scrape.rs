//! `GET /metrics`: the figures of `crate::metrics` and the feed's state, in Prometheus text.
//! What needs the database (the audit head, the backlog of change requests and webhook
//! deliveries) is read here with a one-second limit: a scrape never waits on a lock, and when
//! the database does not answer those families are left out and `switchyard_database_up` says 0.

use crate::metrics::exposition::{Exposition, Kind, CONTENT_TYPE};
use crate::metrics::store::{Backlog, OPEN_STATES};
use crate::metrics::{feed, sdk, traffic, webhooks};
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

/// How long a scrape waits for the database.
const DATABASE_LIMIT: Duration = Duration::from_secs(1);

pub async fn metrics(State(app): State<AppState>) -> Response {
    let stored = stored(&app).await;
    let mut e = Exposition::new();
    http(&mut e);
    snapshots(&mut e, &app);
    sdks(&mut e);
    database(&mut e, &app, stored.is_some());
    if let Some((head, backlog)) = &stored {
        waiting(&mut e, backlog);
        audit(&mut e, head);
    }
    delivery_attempts(&mut e);
    e.family(
        "switchyard_build_info",
        Kind::Gauge,
        "The running version, as a label.",
    )
    .sample(&[("version", env!("CARGO_PKG_VERSION"))], 1u64);
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], e.finish()).into_response()
}

/// The audit head and the backlog, or None when the database does not answer in time.
async fn stored(app: &AppState) -> Option<(crate::audit::Head, Backlog)> {
    let read = async {
        let mut conn = app.db.acquire().await?;
        let head = crate::audit::store::head(&mut conn).await?;
        let backlog = crate::metrics::store::backlog(&mut conn).await?;
        anyhow::Ok((head, backlog))
    };
    match tokio::time::timeout(DATABASE_LIMIT, read).await {
        Ok(Ok(read)) => Some(read),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "/metrics could not read the database");
            None
        }
        Err(_) => None,
    }
}

fn http(e: &mut Exposition) {
    e.family(
        "switchyard_http_responses_total",
        Kind::Counter,
        "HTTP answers by route family and status class.",
    );
    for family in traffic::Family::ALL {
        for (i, class) in traffic::CLASSES.iter().enumerate() {
            let labels = [("family", family.label()), ("class", *class)];
            e.sample(&labels, traffic::responses(family, i));
        }
    }
    e.family(
        "switchyard_http_connections_open",
        Kind::Gauge,
        "Client connections open now.",
    )
    .sample(&[], traffic::connections_open());
    e.family(
        "switchyard_http_connections_refused_total",
        Kind::Counter,
        "Connections refused with 503 because a connection cap was reached.",
    )
    .sample(&[], traffic::connections_refused());
}

fn snapshots(e: &mut Exposition, app: &AppState) {
    let mut envs = app.feed.snapshots.environments();
    envs.sort_by(|a, b| {
        (&a.project_key, &a.environment_key).cmp(&(&b.project_key, &b.environment_key))
    });
    let labels = |s: &crate::feed::snapshot::EnvSnapshot| {
        [
            ("project", s.project_key.clone()),
            ("environment", s.environment_key.clone()),
        ]
    };
    e.family(
        "switchyard_feed_snapshot_revision",
        Kind::Gauge,
        "Revision of the state each environment serves, derived from its content: replicas \
         serving the same state show the same number.",
    );
    for s in &envs {
        let l = labels(s);
        e.sample(&pairs(&l), s.compiled.revision());
    }
    e.family(
        "switchyard_feed_snapshot_age_seconds",
        Kind::Gauge,
        "Seconds since this replica last rebuilt each environment's snapshot.",
    );
    for s in &envs {
        let l = labels(s);
        e.sample(&pairs(&l), s.built.elapsed().as_secs_f64());
    }
    e.family(
        "switchyard_feed_loaded",
        Kind::Gauge,
        "1 once the feed has loaded the flag state (before that it answers 503).",
    )
    .sample(&[], u64::from(app.feed.snapshots.is_loaded()));
    if let Some(seq) = app.watcher.built_seq() {
        e.family(
            "switchyard_feed_audit_seq",
            Kind::Gauge,
            "Audit sequence number the snapshots are built up to; behind switchyard_audit_head_seq \
             while a change is being rebuilt.",
        )
        .sample(&[], seq);
    }
    if let Some(age) = feed::since_refresh() {
        e.family(
            "switchyard_feed_refresh_age_seconds",
            Kind::Gauge,
            "Seconds since the feed last read the database and was up to date; grows while the \
             database is unreachable and the feed serves its last snapshot.",
        )
        .sample(&[], age.as_secs_f64());
    }
    e.histogram(
        "switchyard_feed_rebuild_duration_seconds",
        "Time to rebuild the snapshots after changes, from reading them to serving them.",
        &feed::rebuilds().values(),
    );
}

fn sdks(e: &mut Exposition) {
    e.family(
        "switchyard_feed_streams_open",
        Kind::Gauge,
        "Event streams (/api/client/streaming) open now.",
    )
    .sample(&[], sdk::streams_open());
    e.family(
        "switchyard_feed_streams_opened_total",
        Kind::Counter,
        "Event streams opened.",
    )
    .sample(&[], sdk::streams_opened());
    e.family(
        "switchyard_sdk_posts_total",
        Kind::Counter,
        "SDK registrations and metric posts by API and outcome (accepted, or why refused).",
    );
    for api in sdk::Api::ALL {
        for post in sdk::Post::ALL {
            for outcome in sdk::Outcome::ALL {
                let labels = [
                    ("api", api.label()),
                    ("kind", post.label()),
                    ("outcome", outcome.label()),
                ];
                e.sample(&labels, sdk::posts(api, post, outcome));
            }
        }
    }
    e.family(
        "switchyard_sdk_reports_dropped_total",
        Kind::Counter,
        "Accepted SDK reports dropped because the queue to the database was full.",
    )
    .sample(&[], sdk::reports_dropped());
}

fn database(e: &mut Exposition, app: &AppState, answered: bool) {
    e.family(
        "switchyard_database_up",
        Kind::Gauge,
        "1 when this scrape's database reads answered within a second.",
    )
    .sample(&[], u64::from(answered));
    let size = app.db.size() as usize;
    let idle = app.db.num_idle().min(size);
    e.family(
        "switchyard_database_pool_connections",
        Kind::Gauge,
        "Database connections held by the pool, by state.",
    )
    .sample(&[("state", "idle")], idle)
    .sample(&[("state", "in_use")], size - idle);
    e.family(
        "switchyard_database_pool_max_connections",
        Kind::Gauge,
        "The most connections the pool opens.",
    )
    .sample(&[], app.db.max_connections());
}

fn waiting(e: &mut Exposition, backlog: &Backlog) {
    e.family(
        "switchyard_change_requests_open",
        Kind::Gauge,
        "Change requests not yet applied, rejected or cancelled, by state (in-review: waiting \
         for approvals).",
    );
    for (state, n) in OPEN_STATES.iter().zip(backlog.change_requests) {
        e.sample(&[("state", *state)], n);
    }
    e.family(
        "switchyard_webhook_outbox_pending",
        Kind::Gauge,
        "Webhook deliveries waiting to be sent (neither delivered nor given up).",
    )
    .sample(&[], backlog.outbox_pending);
    e.family(
        "switchyard_webhook_outbox_retrying",
        Kind::Gauge,
        "Pending webhook deliveries that failed at least once and wait for their retry.",
    )
    .sample(&[], backlog.outbox_retrying);
}

fn delivery_attempts(e: &mut Exposition) {
    e.family(
        "switchyard_webhook_delivery_attempts_total",
        Kind::Counter,
        "Webhook delivery attempts made by this process, by result (given_up: the last attempt \
         failed).",
    );
    for a in webhooks::Attempt::ALL {
        e.sample(&[("result", a.label())], webhooks::attempts(a));
    }
}

fn audit(e: &mut Exposition, head: &crate::audit::Head) {
    // Scrapers keep history: a head that later disappears from the log shows tampering.
    e.family(
        "switchyard_audit_head_seq",
        Kind::Gauge,
        "Sequence number of the newest audit entry.",
    )
    .sample(&[], head.seq);
    e.family(
        "switchyard_audit_head_info",
        Kind::Gauge,
        "The newest audit entry's hash, as a label.",
    )
    .sample(&[("hash", head.hash.as_str())], 1u64);
}

fn pairs<'a>(l: &'a [(&'static str, String); 2]) -> [(&'static str, &'a str); 2] {
    [(l[0].0, l[0].1.as_str()), (l[1].0, l[1].1.as_str())]
}
