//! The layout holds (issue 14): domain folders know nothing of HTTP, HTML or the transports, so
//! the rules can be read, tested and moved to another backend without the web around them.

use std::path::{Path, PathBuf};

/// Folders holding types, rules and SQL.
const DOMAIN: [&str; 17] = [
    "coderefs",
    "accounts",
    "projects",
    "catalog",
    "targeting",
    "evaluation",
    "changes",
    "lifecycle",
    "audit",
    "authz",
    "notify",
    "usage",
    "transfer",
    "signals",
    "search",
    "rollout",
    "metrics",
];

/// What a domain file must not name: transport crates and the transport modules of this crate.
const TRANSPORT: [&str; 16] = [
    "axum::",
    "axum_htmx::",
    "askama::",
    "tower::",
    "tower_http::",
    "tower_sessions::",
    "hyper::",
    "hyper_util::",
    "crate::web",
    "crate::api",
    "crate::http",
    "crate::feed",
    "crate::app",
    // The transports' shared state: it holds the feed's watcher.
    "crate::state",
    "crate::cli",
    "crate::auth::extract",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn domain_folders_import_no_transport() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut checked = 0;
    for folder in DOMAIN {
        let mut files = Vec::new();
        rust_files(&src.join(folder), &mut files);
        for file in files {
            checked += 1;
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                // `use crate::{audit, web::x}` names a module without its `crate::` prefix.
                let grouped = code.trim_start().starts_with("use crate::{")
                    && TRANSPORT.iter().any(|t| {
                        let name = t.trim_start_matches("crate::").trim_end_matches("::");
                        t.starts_with("crate::")
                            && code
                                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                                .any(|w| w == name || w.starts_with(&format!("{name}::")))
                    });
                if grouped {
                    let rel = file.strip_prefix(&src).unwrap().display();
                    found.push(format!("src/{rel}:{}: {}", n + 1, line.trim()));
                }
                for bad in TRANSPORT {
                    let named = code.contains(bad)
                        || code.contains(&format!("use {}", bad.trim_end_matches("::")));
                    if named {
                        let rel = file.strip_prefix(&src).unwrap().display();
                        found.push(format!("src/{rel}:{}: {}", n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} domain files found under {}",
        src.display()
    );
    assert!(
        found.is_empty(),
        "domain files name a transport (move the code to web/, api/, http/ or feed/, or pass \
         what it needs in):\n{}",
        found.join("\n")
    );
}

/// Where permissions are asked: a transport asks the policy (`ProjectAccess::require`) between
/// a command's plan and carrying it out; below the transports nothing asks, it says which
/// `authz::Action` it needs. Everything under `src/` counts but the transports and `authz`.
const ASKING: [&str; 6] = ["web", "api", "feed", "http", "cli", "authz"];

#[test]
fn only_transports_ask_for_permissions() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    let mut checked = 0;
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        if ASKING.contains(&top.as_ref()) {
            continue;
        }
        checked += 1;
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains(".require(") {
                found.push(format!("src/{}:{}: {}", rel.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} files found under {}",
        src.display()
    );
    assert!(
        found.is_empty(),
        "permissions asked below the transports (say which `authz::Action` the command needs, \
         plan it, and let the handler ask, e.g. through `http::commands`):\n{}",
        found.join("\n")
    );
}

/// Where SQL is written: calls that run a statement or build one.
const SQL_CALLS: [&str; 4] = ["db::query", "sqlx::query", "QueryBuilder::new", "raw_sql("];

/// SQL lives in a folder's `store.rs` or the files of its `store/` folder (issue 14), so a second
/// backend is added beside the statements rather than hunted for. `db/` is the layer they run
/// through; `auth/token_store.rs` is the API tokens' store.
fn may_hold_sql(rel: &Path) -> bool {
    rel.starts_with("db")
        || rel == Path::new("auth/token_store.rs")
        || rel.file_name().is_some_and(|n| n == "store.rs")
        || rel
            .parent()
            .is_some_and(|dir| dir.components().any(|c| c.as_os_str() == "store"))
}

#[test]
fn sql_lives_in_stores() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    let mut stores = 0;
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        if may_hold_sql(rel) {
            stores += usize::from(SQL_CALLS.iter().any(|c| text.contains(c)));
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let grouped = code.contains("use crate::db::{") && code.contains("query");
            if grouped || SQL_CALLS.iter().any(|c| code.contains(c)) {
                found.push(format!("src/{}:{}: {}", rel.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        stores > 20,
        "only {stores} store files with SQL found under {}",
        src.display()
    );
    assert!(
        found.is_empty(),
        "SQL outside a store (move it to the folder's `store.rs` or `store/`):\n{}",
        found.join("\n")
    );
}
