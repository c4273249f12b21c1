//! The application at the top: the router that merges `web`, `api`, the feed and the probes, and
//! `serve`, which starts the background work and the listener.

use crate::auth::session_store::Sessions;
use crate::config::Settings;
use crate::db::Db;
use crate::http;
use crate::state::AppState;
use axum::Router;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

pub async fn session_layer(
    db: &Db,
    settings: &Settings,
) -> anyhow::Result<SessionManagerLayer<Sessions>> {
    let secret = {
        use crate::auth::csrf;
        let mut conn = db.acquire().await?;
        crate::auth::store::shared_secret(&mut conn, csrf::SECRET_NAME, &csrf::candidate_secret())
            .await?
    };
    crate::auth::csrf::configure(settings.secure_cookies, &secret);
    let store = Sessions::open(db).await?;
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
        feed: state.feed.clone(),
        render_error,
    }
}

/// Errors made below the transports get the transports' own bodies.
fn render_error(
    api: bool,
    status: axum::http::StatusCode,
    code: &str,
    message: &str,
) -> axum::response::Response {
    if api {
        crate::api::error_body(status, code, message)
    } else {
        crate::web::error_page(status, &crate::web::sentence(message))
    }
}

pub async fn router(state: AppState) -> anyhow::Result<Router> {
    let sessions = session_layer(&state.db, &state.settings).await?;
    // Around the session layer, so that a session it cannot store becomes the "database busy"
    // 503 page rather than its bare 500 (see `auth::session::unsaved_as_busy`).
    let web = crate::web::router(state.clone())
        .layer(axum::middleware::from_fn(
            crate::auth::session::mark_answered,
        ))
        .layer(sessions.clone())
        .layer(axum::middleware::from_fn(
            crate::auth::session::unsaved_as_busy,
        ));
    // An address no route knows: an empty 404 on API paths (given its JSON body by
    // `http::fill_empty_errors`), the error page in the signed-in frame elsewhere.
    let not_found = Router::new()
        .fallback(crate::web::not_found)
        .layer(axum::middleware::from_fn(
            crate::auth::session::mark_answered,
        ))
        .layer(sessions)
        .layer(axum::middleware::from_fn(
            crate::auth::session::unsaved_as_busy,
        ))
        .with_state(state.clone());
    let app = Router::new()
        .merge(web)
        .merge(crate::api::router(state.clone()))
        .merge(crate::feed::router(state.feed.clone()))
        .merge(http::probes::router(state.clone()))
        .fallback_service(not_found);
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
    state.feed.signals.start(state.db.clone());
    crate::changes::scheduler::start(state.writes.clone(), state.clock.clone());
    crate::rollout::watch::start(state.writes.clone(), state.clock.clone());
    let every = state.settings.lifecycle_interval;
    crate::lifecycle::job::start(state.writes.clone(), state.clock.clone(), every);
    crate::lifecycle::report::schedule::start(
        state.writes.clone(),
        state.clock.clone(),
        state.settings.report_schedule,
    );
    crate::notify::delivery::start(
        state.db.clone(),
        state.clock.clone(),
        state.settings.webhook_allow.clone(),
    );
    let envelope = envelope(&state);
    let limits = http::server::Limits::from_settings(&state.settings);
    let tokens = state.feed.tokens.clone();
    let (body_limit, request_timeout) = (state.settings.body_limit, state.settings.request_timeout);
    let router = router(state).await?;
    let app = http::FastLane {
        router,
        envelope,
        body_limit,
        request_timeout,
    };
    http::server::serve(listener, app, limits, shutdown, move || {
        tokens.end_streams()
    })
    .await;
    Ok(())
}
