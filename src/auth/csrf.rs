//! The synchronizer token against cross-site requests: one random token per session, sent back
//! with every state-changing form (hidden field) or htmx request (header).

use rand::rngs::OsRng;
use rand::RngCore;
use subtle::ConstantTimeEq;
use tower_sessions::Session;

pub const SESSION_KEY: &str = "csrf";
pub const FORM_FIELD: &str = "csrf_token";
pub const HEADER: &str = "x-csrf-token";

fn fresh() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// The session's token, creating one (and so the session) when there is none yet.
pub async fn token(session: &Session) -> String {
    if let Ok(Some(t)) = session.get::<String>(SESSION_KEY).await {
        return t;
    }
    let t = fresh();
    if let Err(e) = session.insert(SESSION_KEY, &t).await {
        tracing::warn!(error = %e, "could not store the CSRF token");
    }
    t
}

/// A new token, used at sign-in so a token seen before authentication is worthless after.
pub async fn rotate(session: &Session) -> String {
    let t = fresh();
    if let Err(e) = session.insert(SESSION_KEY, &t).await {
        tracing::warn!(error = %e, "could not store the CSRF token");
    }
    t
}

pub async fn matches(session: &Session, presented: &str) -> bool {
    match session.get::<String>(SESSION_KEY).await {
        Ok(Some(expected)) => {
            !presented.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
        }
        _ => false,
    }
}
