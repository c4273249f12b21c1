//! A scan as it arrives (`PUT .../code-references/{repository}`, or from `switchyard scan`):
//! `{"commit","branch","scannedAt","references":[{"flag","file","line","snippet"}]}`, checked
//! field by field so a refusal names the field (`references[3].line`).

use super::scan::clean;
use super::Scan;
use crate::clock::parse_stamp;
use crate::error::{AppError, PathError};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const MAX_REFERENCES: usize = 200_000;
pub const MAX_FILE_CHARS: usize = 1_000;
pub const MAX_SNIPPET_CHARS: usize = 400;
pub const MAX_REPOSITORY_CHARS: usize = 200;
/// A scan may say it was made a little after the server's now (clocks drift), not more.
const CLOCK_SKEW_MINUTES: i64 = 5;
/// Refusals listed at most, so a wholly wrong body does not answer with 200,000 of them.
const MAX_ERRORS: usize = 20;

/// One reference of an upload, as in the contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    pub flag: String,
    pub file: String,
    pub line: i64,
    pub snippet: String,
}

/// A repository name: what `{repository}` becomes in links. Letters, digits, `.`, `_`, `-`,
/// and `/` between parts (`acme/shop`).
pub fn check_repository(raw: &str) -> Result<String, String> {
    let r = raw.trim();
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "._-/".contains(c);
    let parts_ok = r.split('/').all(|p| !p.is_empty() && p != "." && p != "..");
    if r.is_empty()
        || r.chars().count() > MAX_REPOSITORY_CHARS
        || !r.chars().all(ok_char)
        || !parts_ok
    {
        return Err(format!(
            "a repository name has 1 to {MAX_REPOSITORY_CHARS} letters, digits, '.', '_', '-', \
             with '/' only between parts"
        ));
    }
    Ok(r.to_string())
}

struct Problems(Vec<PathError>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        if self.0.len() < MAX_ERRORS {
            self.0.push(PathError {
                field: field.into(),
                message: message.into(),
            });
        }
    }
}

/// The scan in `body`, or every problem with it (at most 20), each naming its field.
pub fn parse(body: &Value, now: DateTime<Utc>) -> Result<Scan, AppError> {
    let mut p = Problems(Vec::new());
    let Some(obj) = body.as_object() else {
        p.add(
            "body",
            "send an object: {\"commit\",\"branch\",\"scannedAt\",\"references\"}",
        );
        return Err(AppError::InvalidPaths(p.0));
    };
    for k in obj.keys() {
        if !["commit", "branch", "scannedAt", "references"].contains(&k.as_str()) {
            p.add(k.clone(), "unknown field");
        }
    }
    let commit = optional_text(obj, "commit", &mut p, |s| {
        (s.chars().count() <= 100 && !s.chars().any(|c| c.is_whitespace() || c.is_control()))
            .then_some(())
            .ok_or("a commit is up to 100 characters without spaces")
    });
    let branch = optional_text(obj, "branch", &mut p, |s| {
        (s.chars().count() <= 255 && !s.chars().any(char::is_control))
            .then_some(())
            .ok_or("a branch name is up to 255 characters without control characters")
    });
    let scanned_at = match obj.get("scannedAt") {
        None | Some(Value::Null) => {
            p.add("scannedAt", "required: when the scan was made (RFC 3339)");
            None
        }
        Some(Value::String(s)) => match parse_stamp(s) {
            Some(t) if t <= now + Duration::minutes(CLOCK_SKEW_MINUTES) => Some(t),
            Some(_) => {
                p.add("scannedAt", "is in the future");
                None
            }
            None => {
                p.add(
                    "scannedAt",
                    "is not an RFC 3339 time such as 2026-01-31T09:00:00Z",
                );
                None
            }
        },
        Some(_) => {
            p.add("scannedAt", "must be a string (RFC 3339)");
            None
        }
    };
    let references = match obj.get("references") {
        Some(Value::Array(items)) if items.len() > MAX_REFERENCES => {
            p.add(
                "references",
                format!("a scan holds at most {MAX_REFERENCES} references"),
            );
            Vec::new()
        }
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| reference(i, v, &mut p))
            .collect(),
        None => {
            p.add(
                "references",
                "required: a list, empty when nothing was found",
            );
            Vec::new()
        }
        Some(_) => {
            p.add("references", "must be a list");
            Vec::new()
        }
    };
    match scanned_at {
        Some(scanned_at) if p.0.is_empty() => Ok(Scan {
            commit,
            branch,
            scanned_at,
            references,
        }),
        _ => Err(AppError::InvalidPaths(p.0)),
    }
}

fn optional_text(
    obj: &Map<String, Value>,
    field: &'static str,
    p: &mut Problems,
    check: impl Fn(&str) -> Result<(), &'static str>,
) -> Option<String> {
    match obj.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => match check(s.trim()) {
            Ok(()) => Some(s.trim().to_string()),
            Err(m) => {
                p.add(field, m);
                None
            }
        },
        Some(_) => {
            p.add(field, "must be a string or null");
            None
        }
    }
}

fn reference(i: usize, v: &Value, p: &mut Problems) -> Option<Reference> {
    let at = |f: &str| format!("references[{i}].{f}");
    let Some(obj) = v.as_object() else {
        p.add(
            format!("references[{i}]"),
            "must be an object {\"flag\",\"file\",\"line\",\"snippet\"}",
        );
        return None;
    };
    let before = p.0.len();
    for k in obj.keys() {
        if !["flag", "file", "line", "snippet"].contains(&k.as_str()) {
            p.add(at(k), "unknown field");
        }
    }
    let text = |f: &str, p: &mut Problems| match obj.get(f) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => {
            p.add(at(f), "required: a string");
            None
        }
    };
    let flag = text("flag", p).filter(|f| {
        let ok = !f.is_empty();
        if !ok {
            p.add(at("flag"), "must name a flag key");
        }
        ok
    });
    let file = text("file", p).and_then(|f| match check_file(&f) {
        Ok(f) => Some(f),
        Err(m) => {
            p.add(at("file"), m);
            None
        }
    });
    let line = match obj.get("line").and_then(Value::as_i64) {
        Some(n) if (1..=100_000_000).contains(&n) => Some(n),
        _ => {
            p.add(at("line"), "required: a line number from 1");
            None
        }
    };
    let snippet = match obj.get("snippet") {
        None | Some(Value::Null) => Some(String::new()),
        Some(Value::String(s)) => {
            let s = clean(s).trim().to_string();
            if s.chars().count() > MAX_SNIPPET_CHARS {
                p.add(
                    at("snippet"),
                    format!("a snippet has at most {MAX_SNIPPET_CHARS} characters"),
                );
                None
            } else {
                Some(s)
            }
        }
        Some(_) => {
            p.add(at("snippet"), "must be a string");
            None
        }
    };
    if p.0.len() > before {
        return None;
    }
    Some(Reference {
        flag: flag?,
        file: file?,
        line: line?,
        snippet: snippet?,
    })
}

/// A path relative to the repository's top, with `/` between parts.
fn check_file(f: &str) -> Result<String, &'static str> {
    let bad_part = f.split('/').any(|p| p.is_empty() || p == "..");
    if f.is_empty()
        || f.chars().count() > MAX_FILE_CHARS
        || f.starts_with('/')
        || f.contains('\\')
        || bad_part
        || f.chars()
            .any(|c| c.is_control() || crate::catalog::flag::is_invisible(c))
    {
        return Err(
            "a file is a path relative to the repository (up to 1,000 characters, \
             '/' between parts, no '..', no control or invisible characters)",
        );
    }
    Ok(f.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        parse_stamp("2030-01-01T12:00:00Z").unwrap()
    }

    fn fields(body: Value) -> Vec<String> {
        match parse(&body, now()) {
            Err(AppError::InvalidPaths(p)) => p.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_good_upload() {
        let scan = parse(
            &json!({"commit": "abc", "branch": "main", "scannedAt": "2030-01-01T11:00:00Z",
                "references": [{"flag": "x", "file": "src/a.rs", "line": 3, "snippet": "\tx\u{202E}()"}]}),
            now(),
        )
        .unwrap();
        assert_eq!(scan.commit.as_deref(), Some("abc"));
        assert_eq!(scan.references[0].snippet, "x()");
    }

    #[test]
    fn each_refusal_names_its_field() {
        let ok_ref = json!({"flag": "x", "file": "a.rs", "line": 1, "snippet": ""});
        let base = |refs: Value| json!({"scannedAt": "2030-01-01T11:00:00Z", "references": refs});
        assert_eq!(fields(json!([])), ["body"]);
        assert_eq!(fields(json!({"references": []})), ["scannedAt"]);
        assert_eq!(
            fields(json!({"scannedAt": "2030-01-02T00:00:00Z", "references": []})),
            ["scannedAt"]
        );
        assert_eq!(
            fields(json!({"scannedAt": "yesterday", "references": []})),
            ["scannedAt"]
        );
        assert_eq!(
            fields(json!({"scannedAt": "2030-01-01T11:00:00Z"})),
            ["references"]
        );
        assert_eq!(fields(base(json!({}))), ["references"]);
        assert_eq!(
            fields(base(
                json!([ok_ref, {"flag": "x", "file": "a.rs", "line": "3"}])
            )),
            ["references[1].line"]
        );
        assert_eq!(
            fields(base(
                json!([{"flag": "x", "file": "../etc/passwd", "line": 1}])
            )),
            ["references[0].file"]
        );
        assert_eq!(
            fields(base(
                json!([{"flag": 1, "file": "/abs", "line": 0, "extra": true}])
            )),
            [
                "references[0].extra",
                "references[0].flag",
                "references[0].file",
                "references[0].line"
            ]
        );
        assert_eq!(
            fields(
                json!({"scannedAt": "2030-01-01T11:00:00Z", "references": [], "commit": "a b", "x": 1})
            ),
            ["x", "commit"]
        );
    }

    #[test]
    fn repository_names() {
        for good in ["shop", "acme/shop", "web-app_2.0"] {
            assert!(check_repository(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a//b",
            "/a",
            "a/",
            "..",
            "a/../b",
            "a b",
            "<x>",
            &"a".repeat(201),
        ] {
            assert!(check_repository(bad).is_err(), "{bad}");
        }
    }
}
