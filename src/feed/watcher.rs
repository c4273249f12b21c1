//! Keeps the feed's snapshots and token index in step with the database.
//!
//! Every change is audited, so the audit log's head is the change signal: in-process writers
//! `sync` the watcher after they commit (`db::Writes` runs [`Watcher::after_commit`]), waiting for
//! an immediate rebuild that includes their write. Writes from other processes (the CLI, other
//! replicas) wake it through PostgreSQL's commit signal (`db::notify`), and a poll four times
//! a second catches what no signal announced (SQLite, a listener reconnecting). Rebuilds read the database;
//! requests never do. A change to a few flags re-reads those flags' rows and patches the
//! previous state (see `scope`), and the compile reuses what did not change, so a change
//! reaches the stream in tens of milliseconds however many flags an environment has.
//!
//! Tokens have a loop of their own: reading them is cheap, and a token created by the CLI must
//! not wait behind the rebuild of a large project that changed just before it (issue 11,
//! item 18). A token pass (serialised, so a later pass always holds later data) never withholds
//! a revocation, and the rebuild loop runs one before it swaps snapshots, so a revoked token is
//! gone before any change made after its revocation reaches a stream. A new token of a project
//! with changes not yet rebuilt is held back until they are (at most `HOLD_BACK`, so a project
//! that never stops changing cannot starve it): its first answer is then not older than the token.

use super::scope::{changed_since, ProjectChange, Scope};
use super::snapshot::EnvSnapshot;
use super::store;
use super::tokens::FeedToken;
use super::FeedState;
use crate::auth::tokens::TokenKind;
use crate::db::Db;
use crate::evaluation::{CompiledEnvironment, ValueType};
use crate::targeting::store::{environment_flags, environment_state};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Mutex, Notify};
use unleash_types::client_features::{ClientFeature, ClientFeatures};

/// How often the watcher looks for changes made by other processes. On PostgreSQL a write's
/// commit signal wakes it at once (`db::notify`); the poll is the catch-up for a lost signal.
const POLL: Duration = Duration::from_millis(250);

/// Overrides [`POLL`] in milliseconds (tests: a long poll shows the signal alone suffices).
pub const POLL_ENV: &str = "SWITCHYARD_FEED_POLL_MS";

fn poll() -> Duration {
    static POLL_EVERY: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *POLL_EVERY.get_or_init(|| {
        std::env::var(POLL_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
            .unwrap_or(POLL)
    })
}

/// The longest a new token waits for its project's pending changes.
const HOLD_BACK: Duration = Duration::from_secs(10);

#[derive(Clone, Default)]
pub struct Watcher {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    rebuild: Notify,
    tokens: Notify,
    /// Tickets handed out by `sync`, in order.
    asked: AtomicU64,
    /// The last ticket whose changes the feed serves: the rebuild loop publishes the tickets it
    /// had seen before it read the audit head.
    served: watch::Sender<u64>,
    /// The audit head the snapshots are built up to (-1 before the first load).
    built: AtomicI64,
    /// Serialises token passes; holds when each held-back token was first seen.
    token_pass: Mutex<HashMap<i64, Instant>>,
}

impl Watcher {
    /// Asks for a rebuild now, without waiting for it.
    fn poke(&self) {
        self.shared.tokens.notify_one();
        self.shared.rebuild.notify_one();
    }

    /// Waits until the feed serves everything committed before this call (read-your-writes),
    /// for at most `limit`, so a stuck rebuild never hangs a write. False when it timed out.
    pub async fn sync(&self, limit: Duration) -> bool {
        let ticket = self.shared.asked.fetch_add(1, Ordering::SeqCst) + 1;
        let mut served = self.shared.served.subscribe();
        self.poke();
        let caught_up = tokio::time::timeout(limit, served.wait_for(|s| *s >= ticket)).await;
        matches!(caught_up, Ok(Ok(_)))
    }

    /// What the write path runs after each commit (`db::Writes`): a `sync` bounded by `limit`.
    pub fn after_commit(&self, limit: Duration) -> crate::db::AfterCommit {
        let watcher = self.clone();
        Arc::new(move || {
            let watcher = watcher.clone();
            Box::pin(async move {
                if !watcher.sync(limit).await {
                    tracing::warn!(
                        limit_ms = limit.as_millis() as u64,
                        "the feed did not catch up with this write in time; answering anyway"
                    );
                }
            })
        })
    }

    /// The audit sequence number the snapshots are built up to; None before the first load.
    pub fn built_seq(&self) -> Option<i64> {
        let built = self.shared.built.load(Ordering::SeqCst);
        (built >= 0).then_some(built)
    }

    /// Loads everything once, then keeps watching in the background.
    pub async fn start(&self, db: Db, feed: FeedState) {
        self.shared.built.store(-1, Ordering::SeqCst);
        let mut last = None;
        match refresh(&self.shared, &db, &feed, None).await {
            Ok(head) => last = Some(head),
            Err(e) => {
                tracing::error!(error = %e, "could not load the feed; it answers 503 until it can")
            }
        }
        tokio::spawn(follow_tokens(self.shared.clone(), db.clone(), feed.clone()));
        let watcher = self.clone();
        crate::db::notify::listen(&db, move || watcher.poke());
        let shared = self.shared.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shared.rebuild.notified() => {},
                    _ = tokio::time::sleep(poll()) => {},
                }
                // Read before the head: every ticket seen here was asked after its write
                // committed, so the head read next includes that write.
                let asked = shared.asked.load(Ordering::SeqCst);
                match refresh(&shared, &db, &feed, last).await {
                    Ok(head) => {
                        last = Some(head);
                        shared.served.send_if_modified(|served| {
                            let newer = asked > *served;
                            *served = (*served).max(asked);
                            newer
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "feed refresh failed; serving the last good state")
                    }
                }
            }
        });
    }
}

/// The token loop: a token pass whenever the audit head moves.
async fn follow_tokens(shared: Arc<Shared>, db: Db, feed: FeedState) {
    let mut last = None;
    loop {
        tokio::select! {
            _ = shared.tokens.notified() => {},
            _ = tokio::time::sleep(poll()) => {},
        }
        let reloaded = async {
            let mut conn = db.acquire().await?;
            let head = store::audit_head(&mut conn).await?;
            // Held-back tokens are looked at again even when nothing else moves, so the hold
            // ends when their project is rebuilt or `HOLD_BACK` has passed.
            let holding = !shared.token_pass.lock().await.is_empty();
            if last != Some(head) || holding {
                token_pass(&shared, &mut conn, &feed).await?;
            }
            anyhow::Ok(head)
        };
        match reloaded.await {
            Ok(head) => last = Some(head),
            Err(e) => tracing::warn!(error = %e, "could not reload the feed's tokens"),
        }
    }
}

/// Rebuilds what changed since `since` (everything when None); returns the new head.
async fn refresh(
    shared: &Shared,
    db: &Db,
    feed: &FeedState,
    since: Option<i64>,
) -> anyhow::Result<i64> {
    let mut conn = db.acquire().await?;
    let head = store::audit_head(&mut conn).await?;
    if since == Some(head) {
        crate::metrics::feed::refreshed();
        return Ok(head);
    }
    let started = Instant::now();
    // Revocations first, so they are in force before the new snapshots are broadcast.
    token_pass(shared, &mut conn, feed).await?;
    for change in changed_since(&mut conn, since).await? {
        rebuild_project(&mut conn, feed, &change).await?;
    }
    shared.built.store(head, Ordering::SeqCst);
    crate::metrics::feed::rebuilt(started.elapsed());
    // Now the tokens held back for these changes.
    token_pass(shared, &mut conn, feed).await?;
    feed.snapshots.mark_loaded();
    crate::metrics::feed::refreshed();
    Ok(head)
}

/// Replaces the token index with the live tokens, holding back new tokens of projects whose
/// changes are not rebuilt yet.
async fn token_pass(
    shared: &Shared,
    conn: &mut crate::db::Conn,
    feed: &FeedState,
) -> anyhow::Result<()> {
    let mut held = shared.token_pass.lock().await;
    let head = store::audit_head(conn).await?;
    let built = shared.built.load(Ordering::SeqCst);
    let pending: HashSet<i64> = if built >= head {
        HashSet::new()
    } else {
        changed_since(conn, (built >= 0).then_some(built))
            .await?
            .iter()
            .map(|c| c.project_id)
            .collect()
    };
    let now = Instant::now();
    let mut still_held = HashMap::new();
    let tokens = store::live_tokens(conn)
        .await?
        .into_iter()
        .filter(|t| {
            if !pending.contains(&t.project_id) || feed.tokens.serves(t.id) {
                return true;
            }
            let since = held.get(&t.id).copied().unwrap_or(now);
            still_held.insert(t.id, since);
            now.duration_since(since) >= HOLD_BACK
        })
        .filter_map(|t| {
            Some((
                t.secret_hash,
                FeedToken {
                    id: t.id,
                    kind: TokenKind::parse(&t.kind)?,
                    project_id: t.project_id,
                    // Admin tokens are indexed only so the feed can refuse them with 403.
                    environment_id: t.environment_id.unwrap_or(-1),
                },
            ))
        })
        .collect();
    *held = still_held;
    feed.tokens.replace(tokens);
    Ok(())
}

async fn rebuild_project(
    conn: &mut crate::db::Conn,
    feed: &FeedState,
    change: &ProjectChange,
) -> anyhow::Result<()> {
    let (project_id, project_key) = (change.project_id, change.project_key.as_str());
    let envs = store::environments_of(conn, project_id).await?;
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
                    all_tags = Some(store::flag_tags(conn, project_id, None).await?);
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
                built: Instant::now(),
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
    conn: &mut crate::db::Conn,
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
    tags.extend(store::flag_tags(conn, project_id, Some(keys)).await?);
    let input = Input::Flags {
        previous: previous.clone(),
        keys: keys.to_vec(),
        fresh,
    };
    Ok((input, value_types, tags))
}
