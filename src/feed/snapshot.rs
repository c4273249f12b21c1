//! Each environment's compiled state, held in memory and swapped whole when a change commits.

use crate::evaluation::CompiledEnvironment;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

pub struct EnvSnapshot {
    pub project_id: i64,
    pub project_key: String,
    pub environment_key: String,
    pub compiled: CompiledEnvironment,
}

#[derive(Default)]
pub struct Snapshots {
    by_env: RwLock<HashMap<i64, Arc<EnvSnapshot>>>,
    loaded: AtomicBool,
}

impl Snapshots {
    pub fn get(&self, environment_id: i64) -> Option<Arc<EnvSnapshot>> {
        self.by_env
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&environment_id)
            .cloned()
    }

    /// Replaces one project's environments at once, so no reader sees half a change.
    pub fn replace_project(&self, project_id: i64, envs: Vec<(i64, EnvSnapshot)>) {
        let mut map = self.by_env.write().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, s| s.project_id != project_id);
        for (id, snap) in envs {
            map.insert(id, Arc::new(snap));
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
