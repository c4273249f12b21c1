//! Opaque, quoted ETags. Strong validators derived from SHA-256, truncated to
//! 128 bits: collisions are irrelevant at that size and headers stay short.

use serde::Serialize;
use sha2::{Digest, Sha256};
use unleash_yggdrasil::Context;

use super::context::canonical_bytes;

/// ETag for one exact byte sequence (a served body).
pub(super) fn of_bytes(bytes: &[u8]) -> String {
    of_parts(&[bytes])
}

/// ETag over several parts. Each part is length-prefixed so that
/// `("ab","c")` and `("a","bc")` cannot collide.
pub(super) fn of_parts(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// ETag of one evaluated answer (`kind` keeps endpoints apart): the
/// configuration revision, the canonical context and the answer itself. The
/// answer is included because results can change with nothing else changing
/// (`DATE_*` constraints compare with the clock); revision and context make
/// the tag change whenever the configuration or the caller does (spec 1.4).
pub(super) fn of_evaluation(
    kind: &[u8],
    revision: u64,
    ctx: &Context,
    answer: &impl Serialize,
) -> String {
    // Cannot fail: the answers are plain structs of strings, bools and maps
    // with string keys.
    let answer = serde_json::to_vec(answer).unwrap_or_default();
    of_parts(&[
        kind,
        &revision.to_be_bytes(),
        &canonical_bytes(ctx),
        &answer,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_quoted_and_stable() {
        let tag = of_bytes(b"{}");
        assert_eq!(tag, of_bytes(b"{}"));
        assert!(tag.starts_with('"') && tag.ends_with('"'));
        assert_eq!(tag.len(), 34);
    }

    #[test]
    fn part_boundaries_change_the_tag() {
        assert_ne!(of_parts(&[b"ab", b"c"]), of_parts(&[b"a", b"bc"]));
    }
}
