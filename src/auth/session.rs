//! What a signed-in browser session holds, and signing in and out.

use crate::accounts::User;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

const KEY: &str = "user";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionUser {
    pub user_id: i64,
    /// The user's session version at sign-in; a password change or deactivation bumps it.
    pub version: i64,
    /// Unix seconds of sign-in, for the absolute timeout.
    pub signed_in_at: i64,
}

pub async fn current(session: &Session) -> Option<SessionUser> {
    session.get::<SessionUser>(KEY).await.ok().flatten()
}

/// A new session id at sign-in (against fixation) and a new CSRF token.
pub async fn sign_in(
    session: &Session,
    user: &User,
    now: i64,
) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session
        .insert(
            KEY,
            SessionUser {
                user_id: user.id,
                version: user.session_version,
                signed_in_at: now,
            },
        )
        .await?;
    crate::auth::csrf::rotate(session).await;
    Ok(())
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
