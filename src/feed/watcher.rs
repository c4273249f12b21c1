//! Keeps the feed's snapshots and token index in step with the database.
//!
//! Every change is audited, so the audit log's head is the change signal: in-process writers
//! `poke` the watcher for an immediate rebuild, and a one-second poll catches writes from other
//! processes (the CLI, other replicas). Rebuilds read the database; requests never do.

use super::snapshot::EnvSnapshot;
use super::tokens::FeedToken;
use super::FeedState;
use crate::auth::tokens::TokenKind;
use crate::db::Db;
use crate::evaluation::CompiledEnvironment;
use crate::targeting::store::environment_state;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct Watcher {
    poke: Arc<Notify>,
}

impl Watcher {
    /// Asks for a rebuild now; called after every successful write request.
    pub fn poke(&self) {
        self.poke.notify_one();
    }

    /// Loads everything once, then keeps watching in the background.
    pub async fn start(&self, db: Db, feed: FeedState) {
        let poke = self.poke.clone();
        let mut last = None;
        match refresh(&db, &feed, None).await {
            Ok(head) => last = Some(head),
            Err(e) => {
                tracing::error!(error = %e, "could not load the feed; it answers 503 until it can")
            }
        }
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = poke.notified() => {},
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {},
                }
                match refresh(&db, &feed, last).await {
                    Ok(head) => last = Some(head),
                    Err(e) => {
                        tracing::warn!(error = %e, "feed refresh failed; serving the last good state")
                    }
                }
            }
        });
    }
}

/// Rebuilds the projects changed since `since` (all of them when None); returns the new head.
async fn refresh(db: &Db, feed: &FeedState, since: Option<i64>) -> anyhow::Result<i64> {
    let mut conn = db.acquire().await?;
    let head: i64 = sqlx::query_scalar("select coalesce(max(seq), 0) from audit_log")
        .fetch_one(&mut *conn)
        .await?;
    if since == Some(head) {
        return Ok(head);
    }
    for (id, key, only) in changed_since(&mut conn, since).await? {
        rebuild_project(&mut conn, feed, id, &key, only.as_ref()).await?;
    }
    load_tokens(&mut conn, feed).await?;
    feed.snapshots.mark_loaded();
    Ok(head)
}

/// Actions that never change what the feed serves.
const NOT_FEED: &str = "action not like 'token.%' and action not like 'member.%' \
     and action not like 'user.%' and action not like 'team.%' \
     and action not like 'change-request.%' and action <> 'environment.protection-set'";

type Changed = Vec<(i64, String, Option<HashSet<String>>)>;

/// Projects to rebuild since `since` (all when None), each with the environments that changed,
/// or None when a change touched the whole project (flag metadata, segments, new flags).
async fn changed_since(
    conn: &mut sqlx::SqliteConnection,
    since: Option<i64>,
) -> anyhow::Result<Changed> {
    let Some(since) = since else {
        let all: Vec<(i64, String)> = sqlx::query_as("select id, key from projects")
            .fetch_all(&mut *conn)
            .await?;
        return Ok(all.into_iter().map(|(id, key)| (id, key, None)).collect());
    };
    let rows: Vec<(i64, String, Option<String>)> = sqlx::query_as(&format!(
        "select distinct p.id, p.key, a.environment_key from audit_log a \
         join projects p on p.key = a.project_key where a.seq > ? and {NOT_FEED}"
    ))
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    let mut by_project: HashMap<i64, (String, Option<HashSet<String>>)> = HashMap::new();
    for (id, key, env) in rows {
        let entry = by_project
            .entry(id)
            .or_insert_with(|| (key, Some(HashSet::new())));
        match (env, &mut entry.1) {
            (Some(env), Some(envs)) => {
                envs.insert(env);
            }
            (None, only) => *only = None,
            (Some(_), None) => {}
        }
    }
    Ok(by_project
        .into_iter()
        .map(|(id, (key, only))| (id, key, only))
        .collect())
}

async fn rebuild_project(
    conn: &mut sqlx::SqliteConnection,
    feed: &FeedState,
    project_id: i64,
    project_key: &str,
    only: Option<&HashSet<String>>,
) -> anyhow::Result<()> {
    let envs: Vec<(i64, String)> =
        sqlx::query_as("select id, key from environments where project_id = ?")
            .bind(project_id)
            .fetch_all(&mut *conn)
            .await?;
    let envs: Vec<(i64, String)> = envs
        .into_iter()
        .filter(|(_, key)| only.is_none_or(|o| o.contains(key)))
        .collect();
    let tag_rows: Vec<(String, String)> = sqlx::query_as(
        "select f.key, t.tag from flag_tags t join flags f on f.id = t.flag_id where f.project_id = ?",
    )
    .bind(project_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut tags: std::collections::HashMap<String, Vec<String>> = Default::default();
    for (flag, tag) in tag_rows {
        tags.entry(flag).or_default().push(tag);
    }
    let mut built = Vec::new();
    for (env_id, env_key) in envs {
        let started = Instant::now();
        let (state, value_types) = environment_state(conn, project_id, project_key, env_id).await?;
        let read = started.elapsed();
        // Compiling is CPU work of some milliseconds per thousand flags: off the request threads.
        let previous = feed.snapshots.get(env_id);
        let compiled = tokio::task::spawn_blocking(move || {
            let previous = previous.as_ref().map(|snap| &snap.compiled);
            CompiledEnvironment::build_versioned(state, &value_types, previous)
        })
        .await??;
        tracing::debug!(
            project = %project_key, environment = %env_key,
            read_ms = read.as_secs_f64() * 1e3,
            compile_ms = (started.elapsed() - read).as_secs_f64() * 1e3,
            "environment rebuilt"
        );
        for w in compiled.warnings() {
            tracing::warn!(project = %project_key, environment = %env_key, flag = ?w.flag, "{}", w.message);
        }
        built.push((
            env_id,
            EnvSnapshot {
                project_id,
                project_key: project_key.to_string(),
                environment_key: env_key,
                compiled,
                tags: tags.clone(),
            },
        ));
    }
    let warm: Vec<i64> = built.iter().map(|(id, _)| *id).collect();
    feed.snapshots
        .replace_environments(project_id, built, only.is_none());
    // Compress the new bodies now rather than in the first request that asks for gzip.
    let snapshots = feed.snapshots.clone();
    tokio::task::spawn_blocking(move || {
        for id in warm {
            if let Some(snap) = snapshots.get(id) {
                snap.compiled.warm();
            }
        }
        release_freed_memory();
    });
    Ok(())
}

/// A rebuild frees as much as it allocates (the replaced environment, the database rows);
/// glibc would keep those pages in its arenas, and a server with 10,000 flags would sit at
/// twice its working size after every change.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the kernel; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

async fn load_tokens(conn: &mut sqlx::SqliteConnection, feed: &FeedState) -> anyhow::Result<()> {
    let rows: Vec<(i64, String, String, i64, Option<i64>)> = sqlx::query_as(
        "select id, secret_hash, kind, project_id, environment_id from api_tokens \
         where revoked_at is null \
         and (expires_at is null or expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
    )
    .fetch_all(&mut *conn)
    .await?;
    let tokens = rows
        .into_iter()
        .filter_map(|(id, hash, kind, project_id, env)| {
            Some((
                hash,
                FeedToken {
                    id,
                    kind: TokenKind::parse(&kind)?,
                    project_id,
                    // Admin tokens are indexed only so the feed can refuse them with 403.
                    environment_id: env.unwrap_or(-1),
                },
            ))
        })
        .collect();
    feed.tokens.replace(tokens);
    Ok(())
}
