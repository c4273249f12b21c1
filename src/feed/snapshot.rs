//! Each environment's compiled state, held in memory and swapped whole when a change commits,
//! and the stream of changes that SSE clients follow.

use crate::evaluation::CompiledEnvironment;
use arc_swap::ArcSwap;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

pub struct EnvSnapshot {
    pub project_id: i64,
    pub project_key: String,
    pub environment_key: String,
    pub compiled: CompiledEnvironment,
    /// Each flag's tags, for `?tag=` narrowing.
    pub tags: HashMap<String, Vec<String>>,
    /// When this replica built it (its age is in `/metrics`).
    pub built: std::time::Instant,
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
    /// Read by every feed request, replaced by the watcher: reads take no lock, so the cores
    /// serving requests never contend for one.
    by_env: ArcSwap<HashMap<i64, Arc<EnvSnapshot>>>,
    /// Serialises writers: a replacement reads, changes and stores the whole map.
    writer: Mutex<()>,
    loaded: AtomicBool,
    /// Event ids start at the wall clock in milliseconds so they keep increasing across restarts.
    next_event: AtomicU64,
    changes: broadcast::Sender<Change>,
}

impl Default for Snapshots {
    // Event ids start from the wall clock so they keep growing across restarts; not a time.
    #[allow(clippy::disallowed_methods)]
    fn default() -> Self {
        let start = chrono::Utc::now().timestamp_millis().max(1) as u64;
        Snapshots {
            by_env: ArcSwap::default(),
            writer: Mutex::new(()),
            loaded: AtomicBool::new(false),
            next_event: AtomicU64::new(start),
            changes: broadcast::channel(256).0,
        }
    }
}

impl Snapshots {
    pub fn get(&self, environment_id: i64) -> Option<Arc<EnvSnapshot>> {
        self.by_env.load().get(&environment_id).cloned()
    }

    /// Every environment served now, for `/metrics` (not for the request path: it copies the
    /// list).
    pub fn environments(&self) -> Vec<Arc<EnvSnapshot>> {
        self.by_env.load().values().cloned().collect()
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
            let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            let mut map = HashMap::clone(&self.by_env.load());
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
            self.by_env.store(Arc::new(map));
        }
        for (id, before, after) in changed {
            let event_id = self.next_event.fetch_add(1, Ordering::AcqRel) + 1;
            let data = diff_events(
                &before.compiled,
                &after.compiled,
                &after.project_key,
                event_id,
            );
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

/// The hydration event for a new listener: the same features and segments as the client API.
pub fn hydration(snap: &EnvSnapshot, event_id: u64) -> String {
    let compiled = &snap.compiled;
    let mut out = format!(r#"{{"events":[{{"eventId":{event_id},"type":"hydration","features":"#);
    push_array(&mut out, compiled.feature_json().map(|(_, json)| json));
    out.push_str(r#","segments":"#);
    push_array(&mut out, compiled.segment_json().map(|(_, json)| json));
    out.push_str("}]}");
    out
}

/// The `data` of the `unleash-updated` event that turns `before` into `after` (Unleash's delta
/// shapes). Features and segments are compared by their served JSON, matched by name and id
/// through maps, so a change costs time linear in the flags and nothing is parsed again.
fn diff_events(
    before: &CompiledEnvironment,
    after: &CompiledEnvironment,
    project_key: &str,
    event_id: u64,
) -> String {
    let old_features: HashMap<&str, &str> = before.feature_json().collect();
    let old_segments: HashMap<&str, &str> = before.segment_json().collect();
    let new_features: HashSet<&str> = after.feature_json().map(|(name, _)| name).collect();
    let new_segments: HashSet<&str> = after.segment_json().map(|(id, _)| id).collect();
    let updated = |old: &HashMap<&str, &str>, key: &str, json: &str| old.get(key) != Some(&json);
    let head = format!(r#"{{"eventId":{event_id},"type":"#);
    let mut events = Vec::new();
    for (_, json) in after
        .segment_json()
        .filter(|(id, json)| updated(&old_segments, id, json))
    {
        events.push(format!(r#"{head}"segment-updated","segment":{json}}}"#));
    }
    for (_, json) in after
        .feature_json()
        .filter(|(name, json)| updated(&old_features, name, json))
    {
        events.push(format!(r#"{head}"feature-updated","feature":{json}}}"#));
    }
    let project = Value::from(project_key);
    for (name, _) in before
        .feature_json()
        .filter(|(name, _)| !new_features.contains(name))
    {
        let name = Value::from(name);
        events.push(format!(
            r#"{head}"feature-removed","featureName":{name},"project":{project}}}"#
        ));
    }
    for (id, _) in before
        .segment_json()
        .filter(|(id, _)| !new_segments.contains(id))
    {
        events.push(format!(r#"{head}"segment-removed","segmentId":{id}}}"#));
    }
    let mut out = String::from(r#"{"events":"#);
    push_array(&mut out, events.iter().map(String::as_str));
    out.push('}');
    out
}

/// Appends `[a,b,...]` of JSON texts.
fn push_array<'a>(out: &mut String, items: impl Iterator<Item = &'a str>) {
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compiled(state: Value) -> CompiledEnvironment {
        let state = serde_json::from_value(state).expect("a client features state");
        CompiledEnvironment::build(state, &HashMap::new(), 1).expect("builds")
    }

    fn segment(id: i32, value: &str) -> Value {
        json!({"id": id, "constraints": [{"contextName": "plan", "operator": "IN", "values": [value]}]})
    }

    #[test]
    fn the_diff_names_what_changed_in_unleash_delta_shapes() {
        let before = compiled(json!({"version": 2,
            "features": [{"name": "a", "enabled": true}, {"name": "b", "enabled": true},
                         {"name": "c", "enabled": true}],
            "segments": [segment(1, "beta"), segment(2, "pro")]}));
        let after = compiled(json!({"version": 2,
            "features": [{"name": "a", "enabled": false}, {"name": "b", "enabled": true},
                         {"name": "d \"quoted\"", "enabled": true}],
            "segments": [segment(1, "pilot"), segment(3, "free")]}));
        let data: Value =
            serde_json::from_str(&diff_events(&before, &after, "shop", 7)).expect("JSON");
        let events = data["events"].as_array().unwrap();
        let summary: Vec<(String, Value)> = events
            .iter()
            .map(|e| {
                assert_eq!(e["eventId"], 7);
                let what = e.get("feature").map(|f| f["name"].clone());
                let what = what.or_else(|| e.get("segment").map(|s| s["id"].clone()));
                let what = what.or_else(|| e.get("featureName").cloned());
                let what = what.or_else(|| e.get("segmentId").cloned());
                (e["type"].as_str().unwrap().to_string(), what.unwrap())
            })
            .collect();
        let expected = [
            ("segment-updated", json!(1)),
            ("segment-updated", json!(3)),
            ("feature-updated", json!("a")),
            ("feature-updated", json!("d \"quoted\"")),
            ("feature-removed", json!("c")),
            ("segment-removed", json!(2)),
        ]
        .map(|(t, v)| (t.to_string(), v));
        assert_eq!(summary, expected);
        assert_eq!(events[2]["feature"]["enabled"], false);
        assert_eq!(events[4]["project"], "shop");
        assert_eq!(
            events[0]["segment"]["constraints"][0]["values"],
            json!(["pilot"])
        );
    }

    #[test]
    fn the_hydration_carries_the_served_features_and_segments() {
        let compiled = compiled(json!({"version": 2,
            "features": [{"name": "a", "enabled": true}], "segments": [segment(1, "beta")]}));
        let body: Value =
            serde_json::from_slice(compiled.client_features_body(Some("5.0.0")).0).unwrap();
        let snap = EnvSnapshot {
            project_id: 1,
            project_key: "shop".into(),
            environment_key: "production".into(),
            compiled,
            tags: HashMap::new(),
            built: std::time::Instant::now(),
        };
        let data: Value = serde_json::from_str(&hydration(&snap, 9)).expect("JSON");
        let event = &data["events"][0];
        assert_eq!(
            (event["type"].as_str(), &event["eventId"]),
            (Some("hydration"), &json!(9))
        );
        assert_eq!(event["features"], body["features"]);
        assert_eq!(event["segments"], body["segments"]);
    }
}
