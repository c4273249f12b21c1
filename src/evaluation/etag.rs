//! Opaque, quoted ETags: strong validators from the 128-bit XXH3 of what is
//! served. Not a cryptographic hash, and need not be: an ETag only tells a
//! client that its own cached copy is still current. XXH3 is stable across
//! machines and releases, so replicas agree, and fast enough to hash every
//! evaluated answer (SHA-256 took a tenth of an OFREP bulk request).

use xxhash_rust::xxh3::Xxh3;

/// ETag for one exact byte sequence (a served body).
pub(super) fn of_bytes(bytes: &[u8]) -> String {
    of_parts(&[bytes])
}

/// A number naming `bytes`, e.g. a configuration revision derived from its body.
pub(super) fn number_of(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// ETag over several parts. Each part is length-prefixed so that
/// `("ab","c")` and `("a","bc")` cannot collide.
pub(super) fn of_parts(parts: &[&[u8]]) -> String {
    let mut hasher = Xxh3::new();
    for part in parts {
        hasher.update(&(part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    format!("\"{:032x}\"", hasher.digest128())
}

/// ETag of one evaluated answer, from the exact bytes served (`kind` keeps
/// endpoints apart). The answer itself decides: results can change with
/// nothing else changing (`DATE_*` constraints compare with the clock), and
/// two contexts that get the same bytes may share a cached copy. The revision
/// is mixed in so that a configuration change always yields a new tag.
pub(super) fn of_answer(kind: &[u8], revision: u64, body: &[u8]) -> String {
    of_parts(&[kind, &revision.to_be_bytes(), body])
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
