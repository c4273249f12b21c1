//! The state every request handler shares: the pool, settings, clock, login throttles, the feed's
//! in-memory state and its watcher. Below every transport, so `web`, `api`, `feed` and `http`
//! take it from here, and `app` at the top composes them.

use crate::clock::SharedClock;
use crate::config::Settings;
use crate::db::{Db, Writes};
use crate::feed::watcher::Watcher;
use crate::feed::FeedState;
use axum::extract::FromRef;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    /// Commits writes and answers them once the feed serves them (read-your-writes).
    pub writes: Writes,
    pub settings: Arc<Settings>,
    pub clock: SharedClock,
    pub throttle: Arc<LoginThrottle>,
    pub feed: FeedState,
    pub watcher: Watcher,
}

pub use crate::auth::throttle::LoginThrottle;

impl AppState {
    pub fn new(db: Db, settings: Settings, clock: SharedClock) -> Self {
        let throttle = LoginThrottle::new(
            &db,
            settings.login_burst,
            settings.login_address_burst,
            settings.login_window,
        );
        let usage = Arc::new(crate::feed::usage::Usage::new(
            clock.clone(),
            settings.metrics_posts_per_minute,
        ));
        let signals = Arc::new(crate::signals::ingest::Ingest::new(
            clock.clone(),
            crate::signals::ingest::DEFAULT_POSTS_PER_MINUTE,
        ));
        let watcher = Watcher::default();
        let writes = Writes::new(db.clone(), watcher.after_commit(settings.feed_sync_timeout));
        AppState {
            db,
            writes,
            settings: Arc::new(settings),
            clock,
            throttle: Arc::new(throttle),
            feed: FeedState {
                snapshots: Arc::default(),
                tokens: Arc::default(),
                usage,
                signals,
            },
            watcher,
        }
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}

impl FromRef<AppState> for FeedState {
    fn from_ref(app: &AppState) -> FeedState {
        app.feed.clone()
    }
}
