//! The hash chain: each entry's hash covers its own fields and the previous entry's hash.
//!
//! `hash = hex(sha256(prev_hash + "\n" + canonical))`, where `canonical` is the compact JSON array
//! `[seq, at, actor_kind, actor_id, actor_label, action, project, flag, environment, target,
//!   before, after, reason, request_id]` (nulls as `null`, before/after as the stored JSON text).
//! The first entry's `prev_hash` is 64 zeros. Anyone can recompute it from an export.

use sha2::{Digest, Sha256};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of an entry that the hash covers, in their canonical order.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Sealed {
    pub seq: i64,
    pub at: String,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    pub actor_label: String,
    pub action: String,
    pub project_key: Option<String>,
    pub flag_key: Option<String>,
    pub environment_key: Option<String>,
    pub target: String,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
}

pub fn canonical(e: &Sealed) -> String {
    serde_json::json!([
        e.seq,
        e.at,
        e.actor_kind,
        e.actor_id,
        e.actor_label,
        e.action,
        e.project_key,
        e.flag_key,
        e.environment_key,
        e.target,
        e.before_json,
        e.after_json,
        e.reason,
        e.request_id
    ])
    .to_string()
}

pub fn hash(prev_hash: &str, e: &Sealed) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical(e).as_bytes());
    hex::encode(h.finalize())
}

/// Why an entry breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub seq: i64,
    pub reason: String,
}

/// Checks entries in order; the first problem found is returned.
pub struct Verifier {
    expected_seq: i64,
    prev_hash: String,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier {
            expected_seq: 1,
            prev_hash: GENESIS.to_string(),
        }
    }
}

impl Verifier {
    pub fn check(&mut self, e: &Sealed, stored_prev: &str, stored_hash: &str) -> Result<(), Break> {
        let fail = |reason: String| Err(Break { seq: e.seq, reason });
        if e.seq != self.expected_seq {
            return Err(Break {
                seq: self.expected_seq,
                reason: format!(
                "expected entry {} here but found entry {}: an entry is missing or out of order",
                    self.expected_seq, e.seq
                ),
            });
        }
        if stored_prev != self.prev_hash {
            return fail("its previous-hash does not match the entry before it".into());
        }
        if hash(stored_prev, e) != stored_hash {
            return fail("its contents do not match its hash: it was altered".into());
        }
        self.expected_seq += 1;
        self.prev_hash = stored_hash.to_string();
        Ok(())
    }

    pub fn checked(&self) -> i64 {
        self.expected_seq - 1
    }

    pub fn head(&self) -> &str {
        &self.prev_hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64, action: &str) -> Sealed {
        Sealed {
            seq,
            at: "2026-01-01T00:00:00.000Z".into(),
            actor_kind: "user".into(),
            actor_id: Some(1),
            actor_label: "a@example.com".into(),
            action: action.into(),
            project_key: Some("web".into()),
            flag_key: None,
            environment_key: None,
            target: "project web".into(),
            before_json: None,
            after_json: Some("{\"x\":1}".into()),
            reason: None,
            request_id: None,
        }
    }

    fn chain(n: i64) -> Vec<(Sealed, String, String)> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|i| {
                let e = entry(i, "project.created");
                let h = hash(&prev, &e);
                let row = (e, prev.clone(), h.clone());
                prev = h;
                row
            })
            .collect()
    }

    fn verify(rows: &[(Sealed, String, String)]) -> Result<(), Break> {
        let mut v = Verifier::default();
        rows.iter().try_for_each(|(e, p, h)| v.check(e, p, h))
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(()));
    }

    #[test]
    fn an_altered_field_names_its_entry() {
        let mut rows = chain(5);
        rows[2].0.action = "flag.deleted".into();
        assert_eq!(verify(&rows).unwrap_err().seq, 3);
    }

    #[test]
    fn a_deleted_entry_is_found() {
        let mut rows = chain(5);
        rows.remove(2);
        assert_eq!(verify(&rows).unwrap_err().seq, 3);
    }

    #[test]
    fn swapped_entries_are_found() {
        let mut rows = chain(5);
        rows.swap(1, 2);
        assert_eq!(verify(&rows).unwrap_err().seq, 2);
    }

    #[test]
    fn the_canonical_form_is_a_fixed_order_array() {
        let e = entry(1, "x");
        assert!(canonical(&e).starts_with("[1,\"2026-01-01T00:00:00.000Z\",\"user\",1,"));
    }
}
