//! Evaluation and rebuild costs on the shared 1,000-flag state, in-process (no HTTP):
//! `cargo bench --bench evaluation` (BENCH_DIR defaults to ../shared/bench).
//!
//! Prints, per operation, the mean time over many iterations. These are the parts of the feed's
//! work that do not depend on the network: what a change costs (compile the environment) and
//! what one frontend or OFREP bulk request costs (evaluate every flag and serialise the answer).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use switchyard::evaluation::{
    frontend_context_from_body, ofrep_context_from_body, CompiledEnvironment, RequestDefaults,
};
use unleash_types::client_features::ClientFeatures;

fn bench_dir() -> PathBuf {
    std::env::var_os("BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/bench")))
}

fn lines(name: &str) -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(bench_dir().join(name)).expect("bench contexts");
    text.lines()
        .take(1000)
        .map(|l| l.as_bytes().to_vec())
        .collect()
}

/// Runs `f` for about `budget` and prints its mean time per call; skipped unless its name
/// contains the first command-line argument, when there is one (`cargo bench -- frontend`).
fn measure(name: &str, budget: Duration, mut f: impl FnMut(usize)) {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if filter.is_some_and(|f| !name.contains(&f)) {
        return;
    }
    f(0);
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < budget {
        f(n);
        n += 1;
    }
    let per = start.elapsed() / n as u32;
    println!(
        "{name:<40} {:>10.1} µs/op  ({n} ops)",
        per.as_secs_f64() * 1e6
    );
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn main() {
    if let Some(path) = std::env::var_os("BENCH_MEMORY_STATE") {
        // Resident memory a compiled environment costs: BENCH_MEMORY_STATE=features.json
        let raw = std::fs::read(path).expect("state file");
        let state: ClientFeatures = serde_json::from_slice(&raw).expect("a client features state");
        drop(raw);
        let before = rss_mib();
        let env = CompiledEnvironment::build(state.clone(), &HashMap::new(), 1).expect("builds");
        println!(
            "state alone: {before:.1} MiB; with a compiled environment: {:.1} MiB",
            rss_mib()
        );
        drop(state);
        println!("compiled environment alone: {:.1} MiB", rss_mib());
        std::hint::black_box(env);
        return;
    }
    let raw = std::fs::read(bench_dir().join("features-1000.json")).expect("features-1000.json");
    let state: ClientFeatures = serde_json::from_slice(&raw).expect("a client features state");
    let types = HashMap::new();
    let budget = Duration::from_secs(3);

    measure("compile environment (1,000 flags)", budget, |_| {
        CompiledEnvironment::build(state.clone(), &types, 1).expect("builds");
    });
    let env = CompiledEnvironment::build(state.clone(), &types, 1).expect("builds");
    measure("recompile after a change to one flag", budget, |i| {
        let mut changed = state.clone();
        let n = changed.features.len();
        let flag = &mut changed.features[i % n];
        flag.enabled = !flag.enabled;
        CompiledEnvironment::build_versioned(changed, &types, Some(&env)).expect("builds");
    });

    let defaults = RequestDefaults::default();
    let frontend: Vec<_> = lines("frontend-contexts.jsonl")
        .iter()
        .map(|b| frontend_context_from_body(b, &defaults).expect("context"))
        .collect();
    measure("frontend answer (evaluate + JSON)", budget, |i| {
        std::hint::black_box(env.frontend_toggles(&frontend[i % frontend.len()]).body);
    });

    let ofrep: Vec<_> = lines("ofrep-contexts.jsonl")
        .iter()
        .map(|b| ofrep_context_from_body(b).expect("context"))
        .collect();
    measure("OFREP bulk answer (evaluate + JSON)", budget, |i| {
        std::hint::black_box(env.ofrep_bulk(&ofrep[i % ofrep.len()]).body);
    });
    let keys: Vec<String> = state.features.iter().map(|f| f.name.clone()).collect();
    measure("OFREP single answer", budget, |i| {
        let out = env.ofrep_single(&keys[i % keys.len()], &ofrep[i % ofrep.len()]);
        std::hint::black_box(serde_json::to_vec(&out.ok()).unwrap());
    });
}
