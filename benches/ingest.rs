//! What one SDK metrics report costs the thread that answers it (issue 13: ingest must not slow
//! the feed), without HTTP: `cargo bench --bench ingest`. Not a test: it prints figures.
//!
//! The report is bench/ingest.sh's: a minute's evaluations of five flags and 50 impact metrics
//! (counters, gauges and histograms with two labels each). Each round reads the body, sums its
//! samples into the pending points and bounds its evaluation bucket, as
//! `feed::client::accept_report` does. Reported: microseconds of CPU per report on one thread,
//! and heap allocations per report (counted by this binary's allocator, so they do not depend
//! on the machine's load).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use switchyard::feed::usage::{bound, ReportBody};
use switchyard::signals::ingest::Ingest;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn report() -> String {
    let now = switchyard::clock::Clock::now(&switchyard::clock::SystemClock);
    let start = now.format("%Y-%m-%dT%H:%M:00Z").to_string();
    let mut metrics = vec![
        serde_json::json!({"name": "http_requests", "help": "requests", "type": "counter",
            "samples": [{"labels": {"route": "/checkout"}, "value": 1000}]}),
        serde_json::json!({"name": "http_errors", "help": "errors", "type": "counter",
            "samples": [{"labels": {"route": "/checkout"}, "value": 3}]}),
    ];
    for i in 0..48 {
        let region = ["eu", "us"][i % 2];
        let labels = serde_json::json!({"region": region, "pod": format!("web-{}", i % 4)});
        let (kind, sample) = match i % 3 {
            0 => (
                "counter",
                serde_json::json!({"labels": labels, "value": 7 + i}),
            ),
            1 => (
                "gauge",
                serde_json::json!({"labels": labels, "value": 7 + i}),
            ),
            _ => (
                "histogram",
                serde_json::json!({"labels": labels, "count": 100, "sum": 25.5, "buckets": [
                    {"le": 0.1, "count": 50}, {"le": 0.5, "count": 85}, {"le": 1.0, "count": 95},
                    {"le": "+Inf", "count": 100}]}),
            ),
        };
        metrics.push(
            serde_json::json!({"name": format!("shop_metric_{i}"), "help": "filler",
            "type": kind, "samples": [sample]}),
        );
    }
    let toggles: serde_json::Map<_, _> = (0..5)
        .map(|i| {
            (
                format!("flag-{i}"),
                serde_json::json!({"yes": 40, "no": 2, "variants": {}}),
            )
        })
        .collect();
    serde_json::json!({
        "appName": "shop", "instanceId": "bench-1", "environment": "development",
        "bucket": {"start": start, "stop": start, "toggles": toggles},
        "impactMetrics": metrics,
    })
    .to_string()
}

fn one(ingest: &Ingest, body: &[u8]) {
    let body = ReportBody::read(body).expect("the report reads");
    ingest.impact_metrics(
        1,
        body.app_name.as_deref().unwrap_or(""),
        &body.impact_metrics,
    );
    let mut body = body.without_metrics();
    if let Some(bucket) = &mut body.bucket {
        bound(
            bucket,
            |_| true,
            switchyard::clock::Clock::now(&switchyard::clock::SystemClock),
        )
        .expect("the bucket is in range");
    }
    std::hint::black_box(body);
}

fn main() {
    let body = report();
    let ingest = Ingest::new(Arc::new(switchyard::clock::SystemClock), 600);
    let rounds: u64 = std::env::var("BENCH_INGEST_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    for _ in 0..1_000 {
        one(&ingest, body.as_bytes());
    }
    let mut best = f64::MAX;
    let mut allocations = 0;
    for _ in 0..5 {
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let t = Instant::now();
        for _ in 0..rounds {
            one(&ingest, body.as_bytes());
        }
        let micros = t.elapsed().as_secs_f64() * 1e6 / rounds as f64;
        best = best.min(micros);
        allocations = (ALLOCATIONS.load(Ordering::Relaxed) - before) / rounds;
    }
    println!(
        "one SDK report of {} bytes (50 impact metrics, 5 flags): {best:.1} µs of one core, \
         {allocations} heap allocations (best of 5 runs of {rounds})",
        body.len()
    );
}
