//! What a signed-in browser session holds, signing in and out, and how the session layer's
//! writes meet a database that cannot take them.
//!
//! A session row is written only when something must be kept: at sign-in, for a flash message,
//! and at most once a minute to push the inactivity expiry forward. Anonymous visits write
//! nothing (issue 11), and pages that only read keep working while the database is locked.

use crate::accounts::User;
use crate::error::AppError;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

const KEY: &str = "user";

/// How often a signed-in request stores the session just to keep it from expiring. The idle
/// timeout is therefore enforced to within this much.
const KEEP_ALIVE_SECS: i64 = 60;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionUser {
    pub user_id: i64,
    /// The user's session version at sign-in; a password change or deactivation bumps it.
    pub version: i64,
    /// Unix seconds of sign-in, for the absolute timeout.
    pub signed_in_at: i64,
    /// Unix seconds of the last time the session was stored to keep it alive.
    #[serde(default)]
    pub seen_at: i64,
}

pub async fn current(session: &Session) -> Option<SessionUser> {
    session.get::<SessionUser>(KEY).await.ok().flatten()
}

/// The session's user, telling a session store that cannot be read (the database away) from
/// a visitor who is not signed in: the first is answered 503, so that a signed-in person is not
/// sent to the sign-in form by an outage.
pub async fn signed_in(session: &Session) -> Result<Option<SessionUser>, AppError> {
    use tower_sessions::session::Error;
    use tower_sessions::session_store::Error as Store;
    match session.get::<SessionUser>(KEY).await {
        Ok(su) => Ok(su),
        Err(Error::Store(Store::Backend(m))) => {
            tracing::warn!(error = %m, "the session store could not be read");
            Err(AppError::Unavailable)
        }
        Err(_) => Ok(None),
    }
}

/// A new session id at sign-in (against fixation) and a new CSRF token, stored before the
/// answer: a database that cannot take it then answers 503 here, where the session layer
/// would answer a bare 500 after the fact.
pub async fn sign_in(session: &Session, user: &User, now: i64) -> Result<(), AppError> {
    // Loads the record, so that only an id the store knows (planted, or the last user's) is
    // cycled; a visitor without one gets a fresh id when the session is first stored.
    let _ = current(session).await;
    if session.id().is_some() {
        session.cycle_id().await.map_err(store_error)?;
    }
    let su = SessionUser {
        user_id: user.id,
        version: user.session_version,
        signed_in_at: now,
        seen_at: now,
    };
    session.insert(KEY, su).await.map_err(store_error)?;
    crate::auth::csrf::rotate(session).await;
    session.save().await.map_err(store_error)
}

/// Pushes the inactivity expiry forward, writing at most once a minute per session.
pub async fn keep_alive(session: &Session, mut su: SessionUser, now: i64) {
    if now - su.seen_at < KEEP_ALIVE_SECS && now >= su.seen_at {
        return;
    }
    su.seen_at = now;
    if let Err(e) = session.insert(KEY, su).await {
        tracing::warn!(error = %e, "could not refresh a session");
    }
}

/// Deletes the session on the server, not only the cookie.
pub async fn sign_out(session: &Session) {
    if let Err(e) = session.flush().await {
        tracing::warn!(error = %e, "could not delete a session");
    }
}

/// After a password change the current session carries on with the new version.
pub async fn refresh_version(session: &Session, version: i64) {
    if let Some(mut su) = current(session).await {
        su.version = version;
        let _ = session.insert(KEY, su).await;
    }
}

/// The session store's failures are the database's: busy, locked or gone.
fn store_error(e: tower_sessions::session::Error) -> AppError {
    use tower_sessions::session::Error;
    use tower_sessions::session_store::Error as Store;
    match e {
        Error::Store(Store::Backend(m)) => {
            tracing::warn!(error = %m, "the session store refused a write");
            AppError::Unavailable
        }
        other => AppError::Internal(other.into()),
    }
}

/// Marks an answer as made by a handler (see [`unsaved_as_busy`]).
#[derive(Clone, Copy)]
struct Answered;

/// Runs inside the session layer: tags every answer that reached it.
pub async fn mark_answered(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    res.extensions_mut().insert(Answered);
    res
}

/// Runs outside the session layer. When the layer cannot store a session after the handler
/// answered, it replaces the answer with a bare 500 (which lost our tag); that is the database
/// refusing a write, and the visitor gets the same "database busy" 503 the API gives.
pub async fn unsaved_as_busy(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if res.status() == StatusCode::INTERNAL_SERVER_ERROR
        && res.extensions().get::<Answered>().is_none()
    {
        tracing::warn!("the session could not be stored; answering 503");
        return AppError::Unavailable.into_response();
    }
    res
}
