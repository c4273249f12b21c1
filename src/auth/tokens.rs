//! API token secrets: generated from the OS's CSPRNG, shown once, stored only as a SHA-256 hash.
//!
//! Format: client and frontend tokens look like Unleash's (`project:environment.secret`) so SDK
//! tooling recognises them; the secret part starts with the token kind, so a leaked token says
//! what it is. 32 random bytes of secret give 256 bits.

use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(rename_all = "lowercase", type_name = "text")]
pub enum TokenKind {
    Client,
    Frontend,
    Admin,
}

/// Stored as its lowercase name.
impl crate::db::IntoArg for TokenKind {
    fn into_arg(self) -> crate::db::Arg {
        crate::db::Arg::Text(self.as_str().to_string())
    }
    fn null() -> crate::db::Arg {
        crate::db::Arg::NullText
    }
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Client => "client",
            TokenKind::Frontend => "frontend",
            TokenKind::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "client" => Some(TokenKind::Client),
            "frontend" => Some(TokenKind::Frontend),
            "admin" => Some(TokenKind::Admin),
            _ => None,
        }
    }
}

pub struct NewSecret {
    pub secret: String,
    pub hash: String,
    pub display_prefix: String,
}

pub fn generate(kind: TokenKind, project: &str, environment: Option<&str>) -> NewSecret {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let random = hex::encode(bytes);
    let scope = format!("{}:{}", project, environment.unwrap_or("*"));
    let secret = format!("{scope}.sy{}_{random}", kind.as_str());
    let display_prefix = format!("{scope}.sy{}_{}…", kind.as_str(), &random[..6]);
    NewSecret {
        hash: hash_secret(&secret),
        secret,
        display_prefix,
    }
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Strips the optional `Bearer ` scheme: Unleash SDKs send the raw token, OFREP providers Bearer.
pub fn from_authorization(header: &str) -> &str {
    let h = header.trim();
    match h.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("bearer ") => h[7..].trim(),
        _ => h,
    }
}

/// Compares two hashes without leaking where they differ.
pub fn hashes_match(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn secrets_are_unique_typed_and_only_their_hash_is_kept() {
        let mut seen = HashSet::new();
        for _ in 0..10_000 {
            let t = generate(TokenKind::Client, "web", Some("production"));
            assert!(t.secret.starts_with("web:production.syclient_"));
            assert_eq!(t.secret.len(), "web:production.syclient_".len() + 64);
            assert!(!t.hash.contains(&t.secret[20..]));
            assert!(seen.insert(t.secret));
        }
    }

    #[test]
    fn bearer_is_optional() {
        assert_eq!(from_authorization("Bearer abc"), "abc");
        assert_eq!(from_authorization("bearer abc"), "abc");
        assert_eq!(from_authorization("abc"), "abc");
    }
}
