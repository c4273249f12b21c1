//! Finding anything by name (issue 9, the command palette): projects, flags (key, name,
//! description, tags) and change requests (number, title, reason), among the projects the
//! caller may see, with one indexed query (`store::find`, over the full-text index that
//! migration 0096 keeps).
//!
//! Here: what a typed query becomes (each word a prefix, all of them required) and what a hit
//! is; no I/O.

pub mod store;

use serde::Serialize;

/// The most words of a query that count, and the longest word kept.
const MAX_WORDS: usize = 8;
const MAX_WORD_CHARS: usize = 64;

/// The full-text expression for what someone typed: each word (letters and digits, as the index
/// splits them) as a quoted prefix, all required. None when nothing searchable was typed.
pub fn match_expression(typed: &str) -> Option<String> {
    let words: Vec<String> = typed
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(MAX_WORDS)
        .map(|w| {
            let w: String = w.chars().take(MAX_WORD_CHARS).collect();
            format!("\"{w}\"*")
        })
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// What a hit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Project,
    Flag,
    ChangeRequest,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "project" => Some(Kind::Project),
            "flag" => Some(Kind::Flag),
            "change" => Some(Kind::ChangeRequest),
            _ => None,
        }
    }

    /// The word shown beside a hit.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Project => "project",
            Kind::Flag => "flag",
            Kind::ChangeRequest => "change request",
        }
    }
}

/// One thing found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hit {
    pub kind: Kind,
    pub id: i64,
    pub project: String,
    /// The key of a project or flag, "#12" for a change request.
    pub key: String,
    pub name: String,
    /// A flag that is archived, a change request's state.
    pub note: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_word_is_a_required_prefix() {
        assert_eq!(
            match_expression("new checkout").as_deref(),
            Some("\"new\"* \"checkout\"*")
        );
        assert_eq!(
            match_expression("  search-new-0002 ").as_deref(),
            Some("\"search\"* \"new\"* \"0002\"*")
        );
        assert_eq!(match_expression("#12").as_deref(), Some("\"12\"*"));
    }

    #[test]
    fn syntax_and_empty_queries_are_not_searched() {
        assert_eq!(match_expression(""), None);
        assert_eq!(match_expression("\" * () : ^ -"), None);
        assert_eq!(
            match_expression("a\"b OR c").as_deref(),
            Some("\"a\"* \"b\"* \"OR\"* \"c\"*")
        );
        let many = "w ".repeat(20);
        assert_eq!(
            match_expression(&many).unwrap().matches('*').count(),
            MAX_WORDS
        );
    }
}
