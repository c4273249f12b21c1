//! Client and frontend tokens, indexed in memory by the hash of their secret, so a feed request
//! never queries the database — not even for unknown tokens. Open streams hold a [`Lease`] on
//! their token, which ends when the token is revoked (or expires) and when the server stops.
//!
//! SHA-256 of the presented secret was a fifth of an SDK poll's instructions, so a secret found
//! once is remembered under a keyed hash ([`Seen`]) until the index is next replaced: later
//! requests with it skip SHA-256. Only secrets that matched a token get there, so it holds at
//! most one entry per token, and secrets themselves are never kept.

use crate::auth::tokens::{self as secrets, TokenKind};
use arc_swap::ArcSwap;
use axum::http::HeaderMap;
use sha2::{Digest as _, Sha256};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use tokio::sync::watch;

#[derive(Clone, Debug)]
pub struct FeedToken {
    pub id: i64,
    pub kind: TokenKind,
    pub project_id: i64,
    pub environment_id: i64,
}

/// SHA-256 of a token's secret: the stored hash, as bytes rather than hex, so looking a
/// presented token up allocates nothing.
type Digest = [u8; 32];

#[derive(Default)]
struct Index {
    by_hash: HashMap<Digest, FeedToken>,
    ids: HashSet<i64>,
    seen: Seen,
}

/// Secrets already matched against this index, by a 128-bit hash under two random keys drawn
/// with the index: nobody outside the process knows the keys, so a guessed secret cannot be
/// aimed at an entry, and one colliding by chance (2^-128) is not a concern.
#[derive(Default)]
struct Seen {
    keys: (RandomState, RandomState),
    /// Copied on each addition (at most once per token and index), read without a lock.
    found: ArcSwap<HashMap<u128, FeedToken>>,
}

impl Seen {
    fn key(&self, secret: &str) -> u128 {
        (u128::from(self.keys.0.hash_one(secret)) << 64) | u128::from(self.keys.1.hash_one(secret))
    }

    fn get(&self, key: u128) -> Option<FeedToken> {
        self.found.load().get(&key).cloned()
    }

    fn remember(&self, key: u128, token: &FeedToken) {
        self.found.rcu(|found| {
            let mut found = HashMap::clone(found);
            found.insert(key, token.clone());
            found
        });
    }
}

#[derive(Default)]
pub struct FeedTokens {
    /// Read without a lock by every feed request; replaced whole when tokens change.
    index: ArcSwap<Index>,
    /// Told each time the index is replaced; true once the server stops serving streams.
    leases: watch::Sender<bool>,
}

/// Why a feed request is refused.
pub enum Refusal {
    /// No token, or one we don't know (401).
    Unknown,
    /// A token of the wrong kind for this endpoint (403).
    WrongKind,
}

impl FeedTokens {
    /// Replaces the index with `tokens`, which carry their stored (hex) secret hash.
    pub fn replace(&self, tokens: Vec<(String, FeedToken)>) {
        let by_hash: HashMap<Digest, FeedToken> = tokens
            .into_iter()
            .filter_map(|(hash, token)| {
                let mut digest = Digest::default();
                hex::decode_to_slice(&hash, &mut digest).ok()?;
                Some((digest, token))
            })
            .collect();
        let ids = by_hash.values().map(|t| t.id).collect();
        self.index.store(Arc::new(Index {
            by_hash,
            ids,
            seen: Seen::default(),
        }));
        // After the store: a woken stream must see the new index.
        self.leases.send_modify(|_| {});
    }

    /// True when the token with this id is accepted now.
    pub fn serves(&self, token_id: i64) -> bool {
        self.index.load().ids.contains(&token_id)
    }

    /// A lease on `token` for a stream; check it with [`Lease::ended`].
    pub fn lease(self: &Arc<Self>, token: &FeedToken) -> Lease {
        Lease {
            tokens: self.clone(),
            token_id: token.id,
            changes: self.leases.subscribe(),
        }
    }

    /// Ends every stream (the server is stopping: SDKs reconnect, to another replica or to
    /// this one once it is back).
    pub fn end_streams(&self) {
        self.leases.send_replace(true);
    }

    /// True once [`FeedTokens::end_streams`] was called.
    pub fn streams_ended(&self) -> bool {
        *self.leases.borrow()
    }

    /// The token in `Authorization` (raw or Bearer) or `X-API-Key`, if it is one of `kinds`.
    pub fn authorize(
        &self,
        headers: &HeaderMap,
        kinds: &[TokenKind],
    ) -> Result<FeedToken, Refusal> {
        let presented = headers
            .get(axum::http::header::AUTHORIZATION)
            .or_else(|| headers.get("x-api-key"))
            .and_then(|v| v.to_str().ok())
            .map(secrets::from_authorization)
            .filter(|t| !t.is_empty())
            .ok_or(Refusal::Unknown)?;
        let index = self.index.load();
        let key = index.seen.key(presented);
        let token = match index.seen.get(key) {
            Some(token) => token,
            None => {
                let digest: Digest = Sha256::digest(presented.as_bytes()).into();
                let token = index.by_hash.get(&digest).ok_or(Refusal::Unknown)?;
                index.seen.remember(key, token);
                token.clone()
            }
        };
        if kinds.contains(&token.kind) {
            Ok(token)
        } else {
            Err(Refusal::WrongKind)
        }
    }
}

/// What a stream holds while it serves a token.
pub struct Lease {
    tokens: Arc<FeedTokens>,
    token_id: i64,
    changes: watch::Receiver<bool>,
}

impl Lease {
    /// True once the token is no longer served or the server stops streaming.
    pub fn is_over(&mut self) -> bool {
        *self.changes.borrow_and_update() || !self.tokens.serves(self.token_id)
    }

    /// Resolves when the lease is over: waits for index replacements and checks after each.
    pub async fn ended(&mut self) {
        while !self.is_over() {
            if self.changes.changed().await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::AUTHORIZATION;

    fn token(id: i64, kind: TokenKind) -> FeedToken {
        FeedToken {
            id,
            kind,
            project_id: 1,
            environment_id: 1,
        }
    }

    fn presenting(secret: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, secret.parse().unwrap());
        h
    }

    fn authorized(tokens: &FeedTokens, secret: &str, kind: TokenKind) -> Option<i64> {
        match tokens.authorize(&presenting(secret), &[kind]) {
            Ok(t) => Some(t.id),
            Err(_) => None,
        }
    }

    #[test]
    fn a_remembered_secret_answers_as_the_index_does_until_the_index_changes() {
        let tokens = FeedTokens::default();
        let client = ("proj:dev.client-secret", token(1, TokenKind::Client));
        let frontend = ("proj:dev.frontend-secret", token(2, TokenKind::Frontend));
        tokens.replace(vec![
            (secrets::hash_secret(client.0), client.1.clone()),
            (secrets::hash_secret(frontend.0), frontend.1.clone()),
        ]);
        for _ in 0..2 {
            assert_eq!(authorized(&tokens, client.0, TokenKind::Client), Some(1));
            assert_eq!(
                authorized(&tokens, client.0, TokenKind::Frontend),
                None,
                "wrong kind"
            );
            assert_eq!(
                authorized(&tokens, "proj:dev.guessed", TokenKind::Client),
                None
            );
        }
        assert_eq!(
            tokens.index.load().seen.found.load().len(),
            1,
            "only a secret that matched is remembered"
        );

        // Revoked: the index is replaced without it, and what was remembered goes with the old one.
        tokens.replace(vec![(secrets::hash_secret(frontend.0), frontend.1.clone())]);
        assert_eq!(authorized(&tokens, client.0, TokenKind::Client), None);
        assert_eq!(
            authorized(&tokens, frontend.0, TokenKind::Frontend),
            Some(2)
        );
    }
}
