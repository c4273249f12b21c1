//! Client and frontend tokens, indexed in memory by the hash of their secret, so a feed request
//! never queries the database — not even for unknown tokens. Open streams hold a [`Lease`] on
//! their token, which ends when the token is revoked (or expires) and when the server stops.

use crate::auth::tokens::{self as secrets, TokenKind};
use arc_swap::ArcSwap;
use axum::http::HeaderMap;
use sha2::{Digest as _, Sha256};
use std::collections::{HashMap, HashSet};
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
        self.index.store(Arc::new(Index { by_hash, ids }));
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
        let digest: Digest = Sha256::digest(presented.as_bytes()).into();
        let index = self.index.load();
        let token = index.by_hash.get(&digest).ok_or(Refusal::Unknown)?;
        if kinds.contains(&token.kind) {
            Ok(token.clone())
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
