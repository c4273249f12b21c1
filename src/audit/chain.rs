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

/// A head recorded elsewhere (`audit head`, a webhook body, a checkpoint file) that the log
/// must still contain. Verifying the chain alone cannot see a truncated tail, nor entries
/// rewritten with the chain recomputed after them; a pinned head can (RFC 9162's signed tree
/// heads play this part in Certificate Transparency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub seq: Option<i64>,
    pub hash: String,
}

impl Pin {
    /// Reads `SEQ:HASH` or a bare `HASH` (64 hex digits).
    pub fn parse(s: &str) -> Result<Pin, String> {
        let s = s.trim();
        let (seq, hash) = match s.split_once([':', ' ']) {
            Some((seq, hash)) => {
                let seq = seq
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| format!("{s:?} does not start with a sequence number"))?;
                (Some(seq), hash.trim())
            }
            None => (None, s),
        };
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "{s:?} is not a head: give SEQ:HASH or HASH, the hash being 64 hex digits"
            ));
        }
        Ok(Pin {
            seq,
            hash: hash.to_ascii_lowercase(),
        })
    }
}

impl std::fmt::Display for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.seq {
            Some(seq) => write!(f, "{seq}:{}", self.hash),
            None => f.write_str(&self.hash),
        }
    }
}

/// Pins checked against the entries as a [`Verifier`] walks them.
#[derive(Debug, Default)]
pub struct Pins {
    by_seq: std::collections::BTreeMap<i64, String>,
    bare: Vec<(String, bool)>,
}

impl Pins {
    pub fn add(&mut self, pin: Pin) -> Result<(), String> {
        match pin.seq {
            // The empty log's head: always contained.
            Some(0) if pin.hash == GENESIS => Ok(()),
            Some(seq) => match self.by_seq.insert(seq, pin.hash.clone()) {
                Some(other) if other != pin.hash => Err(format!(
                    "two heads are given for entry {seq}: {other} and {}",
                    pin.hash
                )),
                _ => Ok(()),
            },
            None => {
                self.bare.push((pin.hash, false));
                Ok(())
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_seq.is_empty() && self.bare.is_empty()
    }

    /// Called for each entry that passed the chain check.
    pub fn check(&mut self, seq: i64, hash: &str) -> Result<(), Break> {
        if let Some(pinned) = self.by_seq.remove(&seq) {
            if pinned != hash {
                return Err(Break {
                    seq,
                    reason: format!(
                        "its hash is {hash}, not the pinned head {seq}:{pinned}: the entry was \
                         rewritten and the chain recomputed after it"
                    ),
                });
            }
        }
        for (pinned, seen) in &mut self.bare {
            if pinned == hash {
                *seen = true;
            }
        }
        Ok(())
    }

    /// After the walk: the first pin the log does not contain, as a sentence.
    pub fn missing(&self, entries: i64) -> Option<String> {
        if let Some((seq, hash)) = self.by_seq.iter().next() {
            return Some(format!(
                "the audit log no longer contains the head {seq}:{hash} (it ends at entry \
                 {entries}): entries were removed from its end"
            ));
        }
        self.bare.iter().find(|(_, seen)| !seen).map(|(hash, _)| {
            format!(
                "the audit log no longer contains the head {hash}: entries were removed or \
                 rewritten"
            )
        })
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

    fn pinned(rows: &[(Sealed, String, String)], pins: &[&str]) -> Result<(), String> {
        let mut v = Verifier::default();
        let mut p = Pins::default();
        for pin in pins {
            p.add(Pin::parse(pin)?)?;
        }
        for (e, prev, h) in rows {
            v.check(e, prev, h)
                .map_err(|b| format!("entry {}", b.seq))?;
            p.check(e.seq, h).map_err(|b| format!("entry {}", b.seq))?;
        }
        p.missing(v.checked()).map_or(Ok(()), Err)
    }

    #[test]
    fn a_pinned_head_catches_truncation_and_recomputed_rewrites() {
        let rows = chain(5);
        let head = format!("5:{}", rows[4].2);
        assert_eq!(pinned(&rows, &[&head, &rows[2].2]), Ok(()));
        let e = pinned(&rows[..4], &[&head]).unwrap_err();
        assert!(
            e.contains(&format!("head {head} (it ends at entry 4)")),
            "{e}"
        );
        assert!(pinned(&rows[..4], &[&rows[4].2])
            .unwrap_err()
            .contains(&rows[4].2));
        // Entry 4 rewritten, 4 and 5 recomputed: a valid chain with other hashes.
        let mut rewritten = chain(3);
        let mut prev = rewritten[2].2.clone();
        for i in 4..=5 {
            let e = entry(i, "flag.deleted");
            let h = hash(&prev, &e);
            rewritten.push((e, prev.clone(), h.clone()));
            prev = h;
        }
        assert_eq!(pinned(&rewritten, &[]), Ok(()));
        assert_eq!(pinned(&rewritten, &[&head]), Err("entry 5".into()));
        assert_eq!(pinned(&[], &[&format!("0:{GENESIS}")]), Ok(()));
    }

    #[test]
    fn pins_read_seq_and_hash_or_a_bare_hash() {
        let h = "A".repeat(64);
        let p = Pin::parse(&format!("12:{h}")).unwrap();
        assert_eq!(
            (p.seq, p.hash.as_str()),
            (Some(12), "a".repeat(64).as_str())
        );
        assert_eq!(Pin::parse(&format!("12 {h}")).unwrap().seq, Some(12));
        assert_eq!(Pin::parse(&h).unwrap().seq, None);
        for bad in [
            "",
            "12:",
            "x:abc",
            "12:nothex",
            &format!("-1:{h}"),
            &h[..63],
        ] {
            assert!(Pin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_canonical_form_is_a_fixed_order_array() {
        let e = entry(1, "x");
        assert!(canonical(&e).starts_with("[1,\"2026-01-01T00:00:00.000Z\",\"user\",1,"));
    }
}
