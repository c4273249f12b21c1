//! Tokens against cross-site requests, sent back with every state-changing form (hidden field)
//! or htmx request (header).
//!
//! Signed in: the synchronizer token, one random token kept in the session. Signed out (the
//! sign-in and first-admin forms) there is no session, and a visit must not create one just to
//! hold a token (issue 11: every anonymous `GET /login` stored a row, and failed while the
//! database was locked). Those forms use a signed double-submit cookie instead (OWASP CSRF cheat
//! sheet): the cookie holds a random nonce, the form carries the nonce's HMAC under a key kept in
//! the database and never sent out, the same for every replica on that database (a form loaded
//! from one is posted to whichever a load balancer picks). Another site can neither read the
//! cookie nor compute the HMAC;
//! `__Host-` (in TLS mode) keeps subdomains from planting the cookie. A token seen before
//! sign-in is worthless after: the session then has its own, and only that one is accepted.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::sync::OnceLock;
use subtle::ConstantTimeEq;
use tower_sessions::cookie::{Cookie, SameSite};
use tower_sessions::Session;

pub const SESSION_KEY: &str = "csrf";
pub const FORM_FIELD: &str = "csrf_token";
pub const HEADER: &str = "x-csrf-token";

fn fresh() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// The session's token, creating one when there is none yet (signed-in sessions get theirs at
/// sign-in, so this stores nothing on their pages).
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

/// Whether `presented` is the token this request may use: the session's own once it has one;
/// a signed-out token only while nobody is signed in (`signed_in`).
pub async fn matches(
    session: &Session,
    signed_in: bool,
    headers: &HeaderMap,
    presented: &str,
) -> bool {
    if presented.is_empty() {
        return false;
    }
    match session.get::<String>(SESSION_KEY).await {
        Ok(Some(expected)) => bool::from(expected.as_bytes().ct_eq(presented.as_bytes())),
        Ok(None) if !signed_in => {
            SignedOut::from_headers(headers).is_some_and(|s| s.accepts(presented))
        }
        _ => false,
    }
}

/// The signing key and cookie settings, set once when the session layer is built.
struct FormKey {
    key: [u8; 32],
    secure: bool,
}

static FORM_KEY: OnceLock<FormKey> = OnceLock::new();

/// The name of the signing key's secret in the database (`auth::store::shared_secret`).
pub const SECRET_NAME: &str = "csrf-signed-out-forms";

/// A secret to offer the database when it has none yet.
pub fn candidate_secret() -> String {
    fresh()
}

/// Sets the signing key, derived from the database's shared `secret`, and whether the
/// signed-out cookie is `Secure` with the `__Host-` prefix (TLS mode).
/// The first call wins (one server per process).
pub fn configure(secure: bool, secret: &str) {
    FORM_KEY.get_or_init(|| FormKey {
        key: Sha256::digest(secret.as_bytes()).into(),
        secure,
    });
}

/// Unconfigured (a process that serves nothing, or unit tests): a random key of its own.
fn form_key() -> &'static FormKey {
    FORM_KEY.get_or_init(|| FormKey::new(false))
}

impl FormKey {
    fn new(secure: bool) -> Self {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        FormKey { key, secure }
    }
}

fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-switchyard-csrf"
    } else {
        "switchyard-csrf"
    }
}

/// The signed-out visitor's nonce: from their cookie, or new (then the answer must set it).
#[derive(Clone, Debug)]
pub struct SignedOut {
    nonce: String,
    fresh: bool,
}

impl SignedOut {
    fn from_headers(headers: &HeaderMap) -> Option<SignedOut> {
        let name = cookie_name(form_key().secure);
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == name && is_nonce(c.value()))
            .map(|c| SignedOut {
                nonce: c.value().to_string(),
                fresh: false,
            })
    }

    /// The token the form carries.
    pub fn token(&self) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&form_key().key)
            .expect("HMAC accepts keys of any length");
        mac.update(b"switchyard signed-out form\0");
        mac.update(self.nonce.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn accepts(&self, presented: &str) -> bool {
        bool::from(self.token().as_bytes().ct_eq(presented.as_bytes()))
    }

    /// Sets the cookie on the answer when the nonce is new; an existing one is kept, so every
    /// open sign-in tab stays valid.
    pub fn set_cookie(&self, res: &mut Response) {
        if !self.fresh {
            return;
        }
        let secure = form_key().secure;
        let cookie = Cookie::build((cookie_name(secure), self.nonce.clone()))
            .path("/")
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Lax)
            .build();
        if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

fn is_nonce(v: &str) -> bool {
    v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())
}

impl<S: Send + Sync> FromRequestParts<S> for SignedOut {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(
            SignedOut::from_headers(&parts.headers).unwrap_or_else(|| SignedOut {
                nonce: fresh(),
                fresh: true,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = format!("other=1; {}={value}", cookie_name(form_key().secure));
        h.insert(header::COOKIE, HeaderValue::from_str(&v).unwrap());
        h
    }

    #[test]
    fn a_signed_out_token_is_bound_to_its_cookie() {
        let a = SignedOut::from_headers(&with_cookie(&"a".repeat(64))).unwrap();
        let b = SignedOut::from_headers(&with_cookie(&"b".repeat(64))).unwrap();
        assert!(a.accepts(&a.token()));
        assert!(!a.accepts(&b.token()));
        assert!(!a.accepts(""));
        assert!(
            !a.accepts(&"a".repeat(64)),
            "the nonce itself is not the token"
        );
        assert!(SignedOut::from_headers(&with_cookie("short")).is_none());
        assert!(SignedOut::from_headers(&HeaderMap::new()).is_none());
    }

    #[test]
    fn only_a_new_nonce_sets_a_cookie() {
        let mut res = Response::new(axum::body::Body::empty());
        let known = SignedOut::from_headers(&with_cookie(&"c".repeat(64))).unwrap();
        known.set_cookie(&mut res);
        assert!(res.headers().get(header::SET_COOKIE).is_none());
        let new = SignedOut {
            nonce: fresh(),
            fresh: true,
        };
        new.set_cookie(&mut res);
        let set = res.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax"),
            "{set}"
        );
        assert!(set.contains("Path=/"), "{set}");
    }
}
