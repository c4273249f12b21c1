//! Client and frontend tokens, indexed in memory by the hash of their secret, so a feed request
//! never queries the database — not even for unknown tokens.

use crate::auth::tokens::{self as secrets, TokenKind};
use axum::http::HeaderMap;
use std::collections::HashMap;
use std::sync::RwLock;

#[derive(Clone, Debug)]
pub struct FeedToken {
    pub id: i64,
    pub kind: TokenKind,
    pub project_id: i64,
    pub environment_id: i64,
}

#[derive(Default)]
pub struct FeedTokens {
    by_hash: RwLock<HashMap<String, FeedToken>>,
}

/// Why a feed request is refused.
pub enum Refusal {
    /// No token, or one we don't know (401).
    Unknown,
    /// A token of the wrong kind for this endpoint (403).
    WrongKind,
}

impl FeedTokens {
    pub fn replace(&self, tokens: Vec<(String, FeedToken)>) {
        *self.by_hash.write().unwrap_or_else(|p| p.into_inner()) = tokens.into_iter().collect();
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
        let hash = secrets::hash_secret(presented);
        let map = self.by_hash.read().unwrap_or_else(|p| p.into_inner());
        let token = map.get(&hash).ok_or(Refusal::Unknown)?;
        if kinds.contains(&token.kind) {
            Ok(token.clone())
        } else {
            Err(Refusal::WrongKind)
        }
    }
}
