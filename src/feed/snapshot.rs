//! Each environment's compiled state, held in memory and swapped whole when a change commits,
//! and the stream of changes that SSE clients follow.

use crate::evaluation::CompiledEnvironment;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::broadcast;

pub struct EnvSnapshot {
    pub project_id: i64,
    pub project_key: String,
    pub environment_key: String,
    pub compiled: CompiledEnvironment,
    /// Each flag's tags, for `?tag=` narrowing.
    pub tags: HashMap<String, Vec<String>>,
}

/// One environment's change, with its streaming events prepared once for every listener.
#[derive(Clone, Debug)]
pub struct Change {
    pub environment_id: i64,
    pub event_id: u64,
    /// The `data` of an `unleash-updated` event: `{"events": [...]}`.
    pub data: Arc<String>,
}

pub struct Snapshots {
    by_env: RwLock<HashMap<i64, Arc<EnvSnapshot>>>,
    loaded: AtomicBool,
    /// Event ids start at the wall clock in milliseconds so they keep increasing across restarts.
    next_event: AtomicU64,
    changes: broadcast::Sender<Change>,
}

impl Default for Snapshots {
    fn default() -> Self {
        let start = chrono::Utc::now().timestamp_millis().max(1) as u64;
        Snapshots {
            by_env: RwLock::default(),
            loaded: AtomicBool::new(false),
            next_event: AtomicU64::new(start),
            changes: broadcast::channel(256).0,
        }
    }
}

impl Snapshots {
    pub fn get(&self, environment_id: i64) -> Option<Arc<EnvSnapshot>> {
        self.by_env
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&environment_id)
            .cloned()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// The id of the most recent event, for a hydration sent now.
    pub fn current_event_id(&self) -> u64 {
        self.next_event.load(Ordering::Acquire)
    }

    /// Replaces environments of one project at once, so no reader sees half a change, and tells
    /// stream listeners what changed in each environment whose body changed. With `whole`, the
    /// project's environments not given are dropped (a deleted environment disappears).
    pub fn replace_environments(
        &self,
        project_id: i64,
        envs: Vec<(i64, EnvSnapshot)>,
        whole: bool,
    ) {
        let mut changed = Vec::new();
        {
            let mut map = self.by_env.write().unwrap_or_else(|p| p.into_inner());
            let old: HashMap<i64, Arc<EnvSnapshot>> = map
                .iter()
                .filter(|(_, s)| s.project_id == project_id)
                .map(|(id, s)| (*id, s.clone()))
                .collect();
            if whole {
                map.retain(|_, s| s.project_id != project_id);
            }
            for (id, snap) in envs {
                let snap = Arc::new(snap);
                if let Some(before) = old.get(&id) {
                    if before.compiled.client_features_body(Some("5.0.0")).1
                        != snap.compiled.client_features_body(Some("5.0.0")).1
                    {
                        changed.push((id, before.clone(), snap.clone()));
                    }
                }
                map.insert(id, snap);
            }
        }
        for (id, before, after) in changed {
            let event_id = self.next_event.fetch_add(1, Ordering::AcqRel) + 1;
            let data = json!({ "events": diff_events(&before, &after, event_id) }).to_string();
            // No listeners is fine.
            let _ = self.changes.send(Change {
                environment_id: id,
                event_id,
                data: Arc::new(data),
            });
        }
    }

    pub fn mark_loaded(&self) {
        self.loaded.store(true, Ordering::Release);
    }

    /// False until the first full load succeeded: the feed answers 503 rather than an empty set.
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }
}

/// The served body as JSON: features by name and segments by id.
fn parts(snap: &EnvSnapshot) -> (Vec<Value>, Vec<Value>) {
    let (bytes, _) = snap.compiled.client_features_body(Some("5.0.0"));
    let body: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let list = |k: &str| {
        body.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    (list("features"), list("segments"))
}

/// The hydration event for a new listener: the same features and segments as the client API.
pub fn hydration(snap: &EnvSnapshot, event_id: u64) -> String {
    let (features, segments) = parts(snap);
    json!({ "events": [{
        "eventId": event_id, "type": "hydration", "features": features, "segments": segments,
    }]})
    .to_string()
}

/// Streaming events that turn `before` into `after` (Unleash's delta shapes). Features are
/// matched by name and segments by id through maps, so a change costs time linear in the flags.
fn diff_events(before: &EnvSnapshot, after: &EnvSnapshot, event_id: u64) -> Vec<Value> {
    let (old_f, old_s) = parts(before);
    let (new_f, new_s) = parts(after);
    let by = |items: &[Value], key: &str| -> HashMap<String, usize> {
        items
            .iter()
            .enumerate()
            .map(|(i, v)| (v.get(key).map(Value::to_string).unwrap_or_default(), i))
            .collect()
    };
    let (old_fi, new_fi) = (by(&old_f, "name"), by(&new_f, "name"));
    let (old_si, new_si) = (by(&old_s, "id"), by(&new_s, "id"));
    let changed = |old: &[Value], index: &HashMap<String, usize>, key: &str, v: &Value| {
        let k = v.get(key).map(Value::to_string).unwrap_or_default();
        index.get(&k).is_none_or(|i| old[*i] != *v)
    };
    let mut events = Vec::new();
    for s in new_s.iter().filter(|s| changed(&old_s, &old_si, "id", s)) {
        events.push(json!({"eventId": event_id, "type": "segment-updated", "segment": s}));
    }
    for f in new_f.iter().filter(|f| changed(&old_f, &old_fi, "name", f)) {
        events.push(json!({"eventId": event_id, "type": "feature-updated", "feature": f}));
    }
    for f in old_f
        .iter()
        .filter(|f| !new_fi.contains_key(&f["name"].to_string()))
    {
        events.push(json!({"eventId": event_id, "type": "feature-removed",
            "featureName": f["name"], "project": after.project_key}));
    }
    for s in old_s
        .iter()
        .filter(|s| !new_si.contains_key(&s["id"].to_string()))
    {
        events.push(json!({"eventId": event_id, "type": "segment-removed", "segmentId": s["id"]}));
    }
    events
}
