//! The application: shared state, the router that merges `web`, `api` and the probes, and `serve`.

use crate::auth::throttle::Throttle;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::db::Db;
use crate::feed::watcher::Watcher;
use crate::feed::FeedState;
use crate::http;
use axum::Router;
use std::sync::{Arc, Mutex};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::SqliteStore;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub clock: SharedClock,
    pub throttle: Arc<LoginThrottle>,
    /// The hash of the one-time first-admin setup token, while there is no user yet.
    pub setup_token: Arc<Mutex<Option<String>>>,
    pub feed: FeedState,
    pub watcher: Watcher,
}

pub struct LoginThrottle {
    pub per_account: Throttle,
    pub per_address: Throttle,
    /// Wrong current passwords on the account page, per user: a stolen session cannot guess
    /// the password at leisure.
    pub password_change: Throttle,
}

/// Wrong current passwords allowed per user within `PASSWORD_CHANGE_WINDOW`.
pub const PASSWORD_CHANGE_BURST: usize = 5;
pub const PASSWORD_CHANGE_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

impl AppState {
    pub fn new(db: Db, settings: Settings, clock: SharedClock) -> Self {
        let throttle = LoginThrottle {
            per_account: Throttle::new(settings.login_burst, settings.login_window),
            per_address: Throttle::new(settings.login_burst, settings.login_window),
            password_change: Throttle::new(PASSWORD_CHANGE_BURST, PASSWORD_CHANGE_WINDOW),
        };
        AppState {
            db,
            settings: Arc::new(settings),
            clock,
            throttle: Arc::new(throttle),
            setup_token: Arc::new(Mutex::new(None)),
            feed: FeedState {
                snapshots: Arc::default(),
                tokens: Arc::default(),
                usage: Arc::default(),
            },
            watcher: Watcher::default(),
        }
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}

pub async fn session_layer(
    db: &Db,
    settings: &Settings,
) -> anyhow::Result<SessionManagerLayer<SqliteStore>> {
    let store = SqliteStore::new(db.clone());
    store.migrate().await?;
    tokio::spawn({
        use tower_sessions::ExpiredDeletion;
        let store = store.clone();
        async move {
            if let Err(e) = store
                .continuously_delete_expired(std::time::Duration::from_secs(300))
                .await
            {
                tracing::warn!(error = %e, "expired-session clean-up stopped");
            }
        }
    });
    let name = if settings.secure_cookies {
        "__Host-switchyard"
    } else {
        "switchyard"
    };
    let idle = time::Duration::seconds(settings.session_idle.as_secs() as i64);
    Ok(SessionManagerLayer::new(store)
        .with_name(name)
        .with_secure(settings.secure_cookies)
        .with_http_only(true)
        // Lax so a link shared in chat opens signed in; every change also needs a CSRF token.
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle)))
}

fn envelope(state: &AppState) -> http::Envelope {
    http::Envelope {
        secure: state.settings.secure_cookies,
        watcher: state.watcher.clone(),
        feed_sync: state.settings.feed_sync_timeout,
        feed: state.feed.clone(),
    }
}

pub async fn router(state: AppState) -> anyhow::Result<Router> {
    let sessions = session_layer(&state.db, &state.settings).await?;
    let web = crate::web::router(state.clone()).layer(sessions);
    let app = Router::new()
        .merge(web)
        .merge(crate::api::router(state.clone()))
        .merge(crate::feed::router(state.clone()))
        .merge(http::probes::router(state.clone()))
        // An empty 404, given its body by `http::fill_empty_errors` as JSON or a page.
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND });
    Ok(http::wrap(app, &state.settings, envelope(&state)))
}

/// Serves until `shutdown` resolves; then stops accepting, ends the event streams, lets
/// requests in flight finish (within the grace period) and returns.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    state
        .watcher
        .start(state.db.clone(), state.feed.clone())
        .await;
    state.feed.usage.start(state.db.clone());
    crate::changes::scheduler::start(state.db.clone(), state.clock.clone(), state.watcher.clone());
    crate::notify::delivery::start(state.db.clone(), state.clock.clone());
    let envelope = envelope(&state);
    let limits = http::server::Limits::from_settings(&state.settings);
    let tokens = state.feed.tokens.clone();
    let router = router(state).await?;
    let app = http::FastLane { router, envelope };
    http::server::serve(listener, app, limits, shutdown, move || {
        tokens.end_streams()
    })
    .await;
    Ok(())
}
