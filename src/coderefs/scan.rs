//! Finding flag keys in one file's bytes: pure, no I/O.
//!
//! A key is found only as a whole token. Token characters are `[A-Za-z0-9_]`, any Unicode
//! letter or digit, and the punctuation flag keys themselves are written with (`-`, `.`, `:`)
//! when it sits between token characters. So in `flags.isEnabled("new-checkout")` the key
//! `new-checkout` is found, and `checkout` is not (the `-` joins it to `new`); in
//! `old_checkout`, `checkout_v2`, `checkout-v2` or `cfg.checkout` it is not found either, while
//! a sentence ending "… behind checkout." still finds it (the `.` is followed by no token
//! character). Where several keys start at one place the longest wins (leftmost-longest), so
//! a key that is a prefix of another key is not a match for it.
//!
//! A file is binary, and skipped, when its first 8 KiB hold a NUL byte (git's rule).

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};

/// Bytes looked at to tell a binary file.
const BINARY_PROBE: usize = 8 * 1024;
/// Up to this many keys the matcher is a DFA (see [`Matcher::new`]).
const MAX_DFA_KEYS: usize = 5_000;
/// A snippet holds at most this many characters.
pub const SNIPPET_CHARS: usize = 200;

/// One key found on one line of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Index of the key in the list the matcher was built from.
    pub key: usize,
    /// 1-based.
    pub line: u32,
    pub snippet: String,
}

/// Every key of a project, compiled once for all files.
pub struct Matcher {
    ac: Option<AhoCorasick>,
    keys: Vec<String>,
}

impl Matcher {
    pub fn new(keys: Vec<String>) -> Result<Matcher, String> {
        let keys: Vec<String> = keys.into_iter().filter(|k| !k.is_empty()).collect();
        let ac = if keys.is_empty() {
            None
        } else {
            let mut builder = AhoCorasick::builder();
            builder.match_kind(MatchKind::LeftmostLongest);
            // A DFA is the fastest to run; the crate picks one only up to 100 keys, for memory's
            // sake, but a few thousand keys still make a DFA of a few megabytes.
            let dfa = (keys.len() <= MAX_DFA_KEYS)
                .then(|| builder.kind(Some(AhoCorasickKind::DFA)).build(&keys).ok())
                .flatten();
            let ac = match dfa {
                Some(ac) => ac,
                None => builder.kind(None).build(&keys).map_err(|e| {
                    format!("the flag keys could not be compiled for the scan: {e}")
                })?,
            };
            Some(ac)
        };
        Ok(Matcher { ac, keys })
    }

    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The keys found in `text` as whole tokens, one hit per key and line, in line order.
    pub fn scan(&self, text: &[u8]) -> Vec<Hit> {
        let Some(ac) = &self.ac else {
            return Vec::new();
        };
        let mut hits: Vec<Hit> = Vec::new();
        let (mut counted_to, mut line) = (0usize, 1u32);
        let mut at = 0;
        while at < text.len() {
            let Some(m) = ac.find(Input::new(text).range(at..)) else {
                break;
            };
            if !whole_token(text, m.start(), m.end()) {
                // A shorter key may still start inside this candidate (`xa-b` holds no `a-b`
                // but may hold `b`): look again one byte further, not past the candidate.
                at = m.start() + 1;
                continue;
            }
            line += memchr::memchr_iter(b'\n', &text[counted_to..m.start()]).count() as u32;
            counted_to = m.start();
            let key = m.pattern().as_usize();
            let seen = hits.iter().rev().take_while(|h| h.line == line);
            if !seen.into_iter().any(|h| h.key == key) {
                hits.push(Hit {
                    key,
                    line,
                    snippet: snippet(text, m.start(), m.end()),
                });
            }
            at = m.end();
        }
        hits
    }
}

pub fn is_binary(text: &[u8]) -> bool {
    memchr::memchr(0, &text[..text.len().min(BINARY_PROBE)]).is_some()
}

/// True when the bytes around `start..end` do not continue the token (see the module doc).
fn whole_token(text: &[u8], start: usize, end: usize) -> bool {
    let before = char_before(text, start);
    let after = char_after(text, end);
    let joined_before = match before {
        Some((c, _)) if is_token_char(c) => true,
        Some((c, len)) if is_joiner(c) => {
            char_before(text, start - len).is_some_and(|(c, _)| is_token_char(c))
        }
        _ => false,
    };
    let joined_after = match after {
        Some((c, _)) if is_token_char(c) => true,
        Some((c, len)) if is_joiner(c) => {
            char_after(text, end + len).is_some_and(|(c, _)| is_token_char(c))
        }
        _ => false,
    };
    !joined_before && !joined_after
}

fn is_token_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn is_joiner(c: char) -> bool {
    matches!(c, '-' | '.' | ':')
}

/// The character ending at `at`, and its length in bytes; None at the start or on bytes that
/// are not UTF-8 (which then join nothing).
fn char_before(text: &[u8], at: usize) -> Option<(char, usize)> {
    let from = at.saturating_sub(4);
    (from..at).rev().find_map(|s| {
        let c = std::str::from_utf8(&text[s..at]).ok()?.chars().next()?;
        (c.len_utf8() == at - s).then_some((c, at - s))
    })
}

fn char_after(text: &[u8], at: usize) -> Option<(char, usize)> {
    let to = (at + 4).min(text.len());
    (at + 1..=to).find_map(|e| {
        let c = std::str::from_utf8(&text[at..e]).ok()?.chars().next()?;
        Some((c, e - at))
    })
}

/// The line around a match, trimmed, without control or invisible characters, at most
/// [`SNIPPET_CHARS`] long and, on a long line, centred on the match.
fn snippet(text: &[u8], start: usize, end: usize) -> String {
    let line_start = memchr::memrchr(b'\n', &text[..start]).map_or(0, |i| i + 1);
    let line_end = memchr::memchr(b'\n', &text[end..]).map_or(text.len(), |i| end + i);
    // A generous byte window first, so a megabyte-long minified line costs no more than this.
    let margin = SNIPPET_CHARS * 4;
    let from = line_start.max(start.saturating_sub(margin));
    let to = line_end.min(end + margin);
    let lead = String::from_utf8_lossy(&text[from..start]);
    let key = String::from_utf8_lossy(&text[start..end]);
    let tail = String::from_utf8_lossy(&text[end..to]);
    let (lead, key, tail) = (clean(&lead), clean(&key), clean(&tail));
    let key_len = key.chars().count();
    let room = SNIPPET_CHARS.saturating_sub(key_len);
    let lead_chars: Vec<char> = lead.trim_start().chars().collect();
    let tail_chars: Vec<char> = tail.trim_end().chars().collect();
    // Half the room before the key, the rest after; room one side leaves unused goes to the other.
    let want_lead = (room / 2).max(room.saturating_sub(tail_chars.len()));
    let take_lead = lead_chars.len().min(want_lead);
    let take_tail = tail_chars.len().min(room - take_lead);
    let mut out = String::new();
    let cut_lead = take_lead < lead_chars.len();
    let cut_tail = take_tail < tail_chars.len();
    out.extend(&lead_chars[lead_chars.len() - take_lead..]);
    out.push_str(&key);
    out.extend(&tail_chars[..take_tail]);
    let mut out = out.trim().to_string();
    if cut_lead {
        out = format!("…{}", out.chars().skip(1).collect::<String>());
    }
    if cut_tail {
        out.pop();
        out.push('…');
    }
    out
}

/// Tabs become spaces; other control characters, invisible and direction-changing ones
/// (which could make a snippet read as something else) and undecodable bytes go.
pub fn clean(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '\t' => Some(' '),
            '\u{FFFD}' => None,
            c if c.is_control() || crate::catalog::flag::is_invisible(c) => None,
            c => Some(c),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(keys: &[&str], text: &str) -> Vec<(String, u32)> {
        let m = Matcher::new(keys.iter().map(|k| k.to_string()).collect()).unwrap();
        m.scan(text.as_bytes())
            .into_iter()
            .map(|h| (m.keys()[h.key].clone(), h.line))
            .collect()
    }

    fn keys_in(keys: &[&str], text: &str) -> Vec<String> {
        found(keys, text).into_iter().map(|(k, _)| k).collect()
    }

    #[test]
    fn whole_tokens_only() {
        let keys = ["checkout", "new-checkout", "beta.search"];
        let table: &[(&str, &[&str])] = &[
            ("isEnabled(\"checkout\")", &["checkout"]),
            ("isEnabled('new-checkout')", &["new-checkout"]),
            ("checkout_v2", &[]),
            ("old_checkout", &[]),
            ("checkout2", &[]),
            ("checkout-v2", &[]),
            ("my-checkout", &[]),
            ("cfg.checkout", &[]),
            ("checkout:on", &[]),
            ("the flag is checkout.", &["checkout"]),
            ("checkout: on", &["checkout"]),
            ("- checkout -", &["checkout"]),
            ("beta.search", &["beta.search"]),
            ("beta.searches", &[]),
            ("xbeta.search", &[]),
            ("ächeckout", &[]),
            ("«checkout»", &["checkout"]),
            ("checkout checkout", &["checkout"]),
            ("new-checkout checkout", &["new-checkout", "checkout"]),
            ("Checkout", &[]),
        ];
        for (text, want) in table {
            assert_eq!(keys_in(&keys, text), *want, "{text:?}");
        }
    }

    #[test]
    fn a_key_that_is_a_prefix_of_another_is_not_a_match_for_it() {
        assert_eq!(keys_in(&["a", "a-b"], "use(a-b)"), ["a-b"]);
        assert_eq!(keys_in(&["a-b", "a"], "use(a-b) use(a)"), ["a-b", "a"]);
        // A longer candidate that fails does not hide a key starting inside it.
        assert_eq!(keys_in(&["xa-b", "b"], "xa-b_ b"), ["b"]);
    }

    #[test]
    fn lines_are_counted_from_one() {
        let text = "one\ntwo checkout\n\nfour checkout\r\nfive new-checkout";
        assert_eq!(
            found(&["checkout", "new-checkout"], text),
            [
                ("checkout".to_string(), 2),
                ("checkout".to_string(), 4),
                ("new-checkout".to_string(), 5)
            ]
        );
    }

    #[test]
    fn no_keys_find_nothing() {
        assert!(found(&[], "checkout").is_empty());
    }

    #[test]
    fn snippets_are_trimmed_clean_and_short() {
        let m = Matcher::new(vec!["checkout".into()]).unwrap();
        let text = "\t  if flags.on(\"checkout\") {\u{202E} // \u{1b}[31mred\n";
        let hit = &m.scan(text.as_bytes())[0];
        assert_eq!(hit.snippet, "if flags.on(\"checkout\") { // [31mred");

        let long = format!("{}checkout{}", "a ".repeat(300), " b".repeat(300));
        let hit = &m.scan(long.as_bytes())[0];
        assert_eq!(hit.snippet.chars().count(), SNIPPET_CHARS);
        assert!(hit.snippet.contains("checkout"), "{}", hit.snippet);
        assert!(hit.snippet.starts_with('…') && hit.snippet.ends_with('…'));

        let near_start = format!("checkout{}", " b".repeat(300));
        let hit = &m.scan(near_start.as_bytes())[0];
        assert!(hit.snippet.starts_with("checkout"), "{}", hit.snippet);
        assert_eq!(hit.snippet.chars().count(), SNIPPET_CHARS);
    }

    #[test]
    fn binary_files_are_told_by_a_nul_in_their_first_8_kib() {
        assert!(is_binary(b"\x7fELF\x02\x01\x01\0\0checkout"));
        assert!(!is_binary(b"plain checkout text"));
        let mut late = vec![b'a'; BINARY_PROBE + 10];
        late.push(0);
        assert!(!is_binary(&late));
    }
}
