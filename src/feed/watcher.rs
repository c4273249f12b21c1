//! Keeps the feed's snapshots and token index in step with the database.
//!
//! Every change is audited, so the audit log's head is the change signal: in-process writers
//! `poke` the watcher for an immediate rebuild, and a one-second poll catches writes from other
//! processes (the CLI, other replicas). Rebuilds read the database; requests never do. A
//! change to a few flags re-reads those flags' rows and patches the previous state (see
//! `scope`), and the compile reuses what did not change, so a change reaches the stream in
//! tens of milliseconds however many flags an environment has.

use super::scope::{changed_since, ProjectChange, Scope};
use super::snapshot::EnvSnapshot;
use super::tokens::FeedToken;
use super::FeedState;
use crate::auth::tokens::TokenKind;
use crate::db::Db;
use crate::evaluation::{CompiledEnvironment, ValueType};
use crate::targeting::store::{environment_flags, environment_state};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use unleash_types::client_features::{ClientFeature, ClientFeatures};

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

/// Rebuilds what changed since `since` (everything when None); returns the new head.
async fn refresh(db: &Db, feed: &FeedState, since: Option<i64>) -> anyhow::Result<i64> {
    let mut conn = db.acquire().await?;
    let head: i64 = sqlx::query_scalar("select coalesce(max(seq), 0) from audit_log")
        .fetch_one(&mut *conn)
        .await?;
    if since == Some(head) {
        return Ok(head);
    }
    for change in changed_since(&mut conn, since).await? {
        rebuild_project(&mut conn, feed, &change).await?;
    }
    load_tokens(&mut conn, feed).await?;
    feed.snapshots.mark_loaded();
    Ok(head)
}

async fn rebuild_project(
    conn: &mut sqlx::SqliteConnection,
    feed: &FeedState,
    change: &ProjectChange,
) -> anyhow::Result<()> {
    let (project_id, project_key) = (change.project_id, change.project_key.as_str());
    let envs: Vec<(i64, String)> =
        sqlx::query_as("select id, key from environments where project_id = ?")
            .bind(project_id)
            .fetch_all(&mut *conn)
            .await?;
    // Read once for all environments that need every flag's tags.
    let mut all_tags = None;
    let mut built = Vec::new();
    for (env_id, env_key) in envs {
        let Some(scope) = change.scope(&env_key) else {
            continue;
        };
        let started = Instant::now();
        let previous = feed.snapshots.get(env_id);
        let (input, value_types, tags) = match (&scope, &previous) {
            (Scope::Flags(keys), Some(previous)) => {
                changed_flags(conn, previous, env_id, keys).await?
            }
            _ => {
                let (state, types) =
                    environment_state(conn, project_id, project_key, env_id).await?;
                if all_tags.is_none() {
                    all_tags = Some(flag_tags(conn, project_id, None).await?);
                }
                let tags = all_tags.clone().unwrap_or_default();
                (Input::Whole(state), types, tags)
            }
        };
        let read = started.elapsed();
        // Compiling is CPU work of some milliseconds per thousand flags: off the request threads.
        let compiled = tokio::task::spawn_blocking(move || {
            let previous = previous.as_ref().map(|snap| &snap.compiled);
            match input {
                Input::Flags {
                    previous,
                    keys,
                    fresh,
                } => {
                    let changed: HashSet<&str> = keys.iter().map(String::as_str).collect();
                    previous.compiled.patched(fresh, &changed, &value_types)
                }
                Input::Whole(state) => {
                    CompiledEnvironment::build_versioned(state, &value_types, previous)
                }
            }
        })
        .await??;
        tracing::debug!(
            project = %project_key, environment = %env_key, ?scope,
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
                tags,
            },
        ));
    }
    let warm: Vec<i64> = built.iter().map(|(id, _)| *id).collect();
    feed.snapshots
        .replace_environments(project_id, built, change.is_whole());
    // Compress the new bodies now rather than in the first request that asks for gzip.
    let snapshots = feed.snapshots.clone();
    tokio::task::spawn_blocking(move || {
        for id in warm {
            if let Some(snap) = snapshots.get(id) {
                snap.compiled.warm();
            }
        }
        crate::memory::release_freed();
    });
    Ok(())
}

type Tags = HashMap<String, Vec<String>>;

/// What a rebuild compiles: an environment read whole, or a few flags read again.
enum Input {
    Whole(ClientFeatures),
    /// The flags named in `keys`, as stored now; a key missing from `fresh` was archived or
    /// deleted.
    Flags {
        previous: Arc<EnvSnapshot>,
        keys: Vec<String>,
        fresh: Vec<ClientFeature>,
    },
}

/// `keys` read again, with the value types and tags of the environment updated for them: a
/// change to a few flags reads a few rows, not the whole environment.
async fn changed_flags(
    conn: &mut sqlx::SqliteConnection,
    previous: &Arc<EnvSnapshot>,
    env_id: i64,
    keys: &[String],
) -> anyhow::Result<(Input, HashMap<String, ValueType>, Tags)> {
    let (project_id, project_key) = (previous.project_id, previous.project_key.as_str());
    let (fresh, fresh_types) =
        environment_flags(conn, project_id, project_key, env_id, Some(keys)).await?;
    let changed: HashSet<&str> = keys.iter().map(String::as_str).collect();
    let mut value_types = previous.compiled.value_types().clone();
    value_types.retain(|key, _| !changed.contains(key.as_str()));
    value_types.extend(fresh_types);
    let mut tags = previous.tags.clone();
    tags.retain(|key, _| !changed.contains(key.as_str()));
    tags.extend(flag_tags(conn, project_id, Some(keys)).await?);
    let input = Input::Flags {
        previous: previous.clone(),
        keys: keys.to_vec(),
        fresh,
    };
    Ok((input, value_types, tags))
}

/// Each flag's tags, for the flags in `only` (all of the project's when None).
async fn flag_tags(
    conn: &mut sqlx::SqliteConnection,
    project_id: i64,
    only: Option<&[String]>,
) -> sqlx::Result<Tags> {
    let keys = only.map(|keys| serde_json::json!(keys).to_string());
    let rows: Vec<(String, String)> = sqlx::query_as(
        "select f.key, t.tag from flag_tags t join flags f on f.id = t.flag_id \
         where f.project_id = ? and (?2 is null or f.key in (select value from json_each(?2)))",
    )
    .bind(project_id)
    .bind(&keys)
    .fetch_all(&mut *conn)
    .await?;
    let mut tags = Tags::new();
    for (flag, tag) in rows {
        tags.entry(flag).or_default().push(tag);
    }
    Ok(tags)
}

async fn load_tokens(conn: &mut sqlx::SqliteConnection, feed: &FeedState) -> anyhow::Result<()> {
    let rows: Vec<(i64, String, String, i64, Option<i64>)> = sqlx::query_as(
        "select id, secret_hash, kind, coalesce(project_id, -1), environment_id from api_tokens \
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
