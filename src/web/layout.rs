//! What every page's frame needs: who is signed in, the CSRF token, the section, a flash message.

use crate::auth::csrf;
use crate::authz::Identity;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

pub struct Layout {
    pub title: String,
    pub user: Option<LayoutUser>,
    pub csrf: String,
    pub section: &'static str,
    pub flash: Option<Flash>,
    pub pending_reviews: i64,
}

pub struct LayoutUser {
    pub name: String,
    pub email: String,
    pub is_admin: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    pub kind: String,
    pub message: String,
}

const FLASH_KEY: &str = "flash";

impl Flash {
    pub async fn set(session: &Session, kind: &str, message: impl Into<String>) {
        let f = Flash {
            kind: kind.to_string(),
            message: message.into(),
        };
        let _ = session.insert(FLASH_KEY, f).await;
    }

    /// Removing marks the session changed, and a changed session is written: remove only a
    /// flash that is there, so that showing a page writes nothing.
    async fn take(session: &Session) -> Option<Flash> {
        let flash = session.get::<Flash>(FLASH_KEY).await.ok().flatten()?;
        let _ = session.remove::<Flash>(FLASH_KEY).await;
        Some(flash)
    }
}

impl Layout {
    pub async fn new(
        session: &Session,
        identity: Option<&Identity>,
        title: impl Into<String>,
        section: &'static str,
    ) -> Layout {
        let pending_reviews = match identity {
            Some(_) => super::changes::pending_reviews(),
            None => 0,
        };
        Layout {
            title: title.into(),
            user: identity.map(|i| LayoutUser {
                name: i.user.name.clone(),
                email: i.user.email.clone(),
                is_admin: i.user.is_admin,
            }),
            csrf: csrf::token(session).await,
            section,
            flash: Flash::take(session).await,
            pending_reviews,
        }
    }

    /// For pages of visitors who are not signed in (sign-in, first-admin setup): their forms'
    /// CSRF token comes from a cookie, since such a visit must store nothing.
    pub async fn signed_out(
        session: &Session,
        csrf: &csrf::SignedOut,
        title: impl Into<String>,
    ) -> Layout {
        Layout {
            title: title.into(),
            user: None,
            csrf: csrf.token(),
            section: "",
            flash: Flash::take(session).await,
            pending_reviews: 0,
        }
    }

    /// For error pages rendered outside a request's session.
    pub fn bare(title: &str) -> Layout {
        Layout {
            title: title.to_string(),
            user: None,
            csrf: String::new(),
            section: "",
            flash: None,
            pending_reviews: 0,
        }
    }
}
