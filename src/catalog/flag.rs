//! Flag vocabulary and the rules for keys, owners and tags.

use regex::Regex;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlagType {
    Release,
    Experiment,
    Operational,
    KillSwitch,
    Permission,
}

impl FlagType {
    pub const ALL: [FlagType; 5] = [
        FlagType::Release,
        FlagType::Experiment,
        FlagType::Operational,
        FlagType::KillSwitch,
        FlagType::Permission,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FlagType::Release => "release",
            FlagType::Experiment => "experiment",
            FlagType::Operational => "operational",
            FlagType::KillSwitch => "kill-switch",
            FlagType::Permission => "permission",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Expected lifetime in days before a flag of this type counts as overdue; None = permanent.
    pub fn default_lifetime_days(self) -> Option<i64> {
        match self {
            FlagType::Release | FlagType::Experiment => Some(40),
            FlagType::Operational => Some(7),
            FlagType::KillSwitch | FlagType::Permission => None,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            FlagType::Release => "Release: ships unfinished work safely; expected to be removed after about 40 days",
            FlagType::Experiment => "Experiment: A/B or multivariate test; expected to be removed after about 40 days",
            FlagType::Operational => "Operational: a temporary operational switch, e.g. a migration; expected to be removed after about 7 days",
            FlagType::KillSwitch => "Kill switch: turns a feature off gracefully in an emergency; permanent",
            FlagType::Permission => "Permission: grants features to some users; permanent",
        }
    }
}

/// A flag's value type: the evaluation's own.
pub use crate::evaluation::ValueType;

pub const MAX_KEY_CHARS: usize = 100;

/// Characters that show nothing or reorder what follows (zero-width spaces and joiners, bidi
/// controls such as U+202E, soft hyphens, variation selectors, tags): Unicode's
/// Default_Ignorable_Code_Point set (via TR39's identifier types) plus the remaining format
/// (Cf) characters, which render as marks or nothing at all.
pub fn is_invisible(c: char) -> bool {
    use unicode_security::general_security_profile::IdentifierType;
    use unicode_security::GeneralSecurityProfile;
    c.identifier_type() == Some(IdentifierType::Default_Ignorable)
        || matches!(c,
            '\u{0600}'..='\u{0605}' | '\u{06DD}' | '\u{070F}' | '\u{0890}'..='\u{0891}'
            | '\u{08E2}' | '\u{110BD}' | '\u{110CD}' | '\u{FFF9}'..='\u{FFFB}'
            | '\u{13430}'..='\u{1343F}')
}

/// The existing key that `key` is confusable with (same Unicode TR39 skeleton, such as
/// Cyrillic `а-one` beside Latin `a-one`), if any. An identical key is not reported here: the
/// unique constraint answers that.
pub fn confusable_with<'a>(
    key: &str,
    existing: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let skeleton: String = unicode_security::skeleton(key).collect();
    existing
        .into_iter()
        .find(|other| *other != key && unicode_security::skeleton(other).eq(skeleton.chars()))
}

/// The default grammar (Unleash's): 1 to 100 characters, no whitespace, control characters or `/`;
/// and (issue 11) no invisible or direction-changing characters.
/// A project may add a stricter pattern, matched against the whole key.
pub fn check_key(
    key: &str,
    project_pattern: Option<&str>,
    example: Option<&str>,
) -> Result<(), String> {
    let chars = key.chars().count();
    if chars == 0 || chars > MAX_KEY_CHARS {
        return Err(format!("a key has 1 to {MAX_KEY_CHARS} characters"));
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("a key may not contain spaces or control characters".into());
    }
    if let Some(c) = key.chars().find(|c| is_invisible(*c)) {
        return Err(format!(
            "a key may not contain invisible or direction-changing characters such as U+{:04X}: \
             the key would not read as what it is",
            c as u32
        ));
    }
    if key.contains('/') {
        return Err("a key may not contain '/'".into());
    }
    if let Some(pattern) = project_pattern.filter(|p| !p.is_empty()) {
        let re =
            anchored(pattern).map_err(|_| "the project's naming pattern is invalid".to_string())?;
        if !re.is_match(key) {
            let hint = example
                .map(|e| format!(", for example {e}"))
                .unwrap_or_default();
            return Err(format!("this project's keys must match {pattern}{hint}"));
        }
    }
    Ok(())
}

pub fn anchored(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
}

/// Checks a new naming pattern and that its example satisfies it.
pub fn check_pattern(pattern: &str, example: Option<&str>) -> Result<(), String> {
    let re = anchored(pattern).map_err(|e| format!("not a valid regular expression: {e}"))?;
    match example {
        Some(ex) if !ex.is_empty() && !re.is_match(ex) => {
            Err(format!("the example {ex:?} does not match the pattern"))
        }
        _ => Ok(()),
    }
}

pub fn check_name(name: &str) -> Result<String, String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 200 || n.chars().any(char::is_control) {
        return Err("a name has 1 to 200 characters".into());
    }
    Ok(n.to_string())
}

pub const MAX_DESCRIPTION: usize = 2_000;

pub fn check_description(d: &str) -> Result<String, String> {
    if d.chars().count() > MAX_DESCRIPTION {
        return Err(format!(
            "a description has at most {MAX_DESCRIPTION} characters"
        ));
    }
    Ok(d.trim().to_string())
}

/// Tags are free words like `checkout` or `team:payments`; trimmed, de-duplicated, at most 20.
pub fn check_tags(tags: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        if t.chars().count() > 50 || t.chars().any(|c| c.is_control() || c == ',') {
            return Err(format!(
                "the tag {t:?} is too long or has a comma or control character"
            ));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    if out.len() > 20 {
        return Err("a flag has at most 20 tags".into());
    }
    out.sort();
    Ok(out)
}

/// Comma- or newline-separated tags from a form field.
pub fn split_tags(field: &str) -> Vec<String> {
    field
        .split([',', '\n'])
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// An owner names a user by e-mail or a team as `team:key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerRef {
    User(String),
    Team(String),
}

impl OwnerRef {
    pub fn parse(s: &str) -> Option<OwnerRef> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        match s.strip_prefix("team:") {
            Some(t) => Some(OwnerRef::Team(t.trim().to_string())),
            None => Some(OwnerRef::User(s.to_lowercase())),
        }
    }
}

/// Links point at tickets and docs; only http(s) so a stored link can never run script.
pub fn check_link(url: &str) -> Result<String, String> {
    let u = url.trim();
    let ok = (u.starts_with("https://") || u.starts_with("http://"))
        && u.len() <= 500
        && !u.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(u.to_string())
    } else {
        Err(format!("{u:?} is not an http(s) link"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_and_bidi_characters_are_refused_by_name() {
        for (key, code) in [
            ("abc\u{202e}gnp.exe", "U+202E"),
            ("a\u{200b}one", "U+200B"),
            ("a\u{200d}one", "U+200D"),
            ("a\u{2066}one", "U+2066"),
            ("a\u{00ad}one", "U+00AD"),
            ("a\u{fe0f}", "U+FE0F"),
            ("a\u{e0041}", "U+E0041"),
            ("a\u{0600}", "U+0600"),
        ] {
            let e = check_key(key, None, None).unwrap_err();
            assert!(e.contains(code), "{key:?}: {e}");
        }
        for ok in [
            "a-one",
            "\u{0444}\u{0438}\u{0447}\u{0430}",
            "caf\u{e9}",
            "x.y:z_1",
            "\u{65e5}\u{672c}",
        ] {
            assert_eq!(check_key(ok, None, None), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn look_alike_keys_name_the_existing_one() {
        let existing = ["a-one", "checkout"];
        assert_eq!(confusable_with("\u{0430}-one", existing), Some("a-one"));
        assert_eq!(
            confusable_with("ch\u{0435}ckout", existing),
            Some("checkout")
        );
        assert_eq!(
            confusable_with("a-one", existing),
            None,
            "the same key is the store's"
        );
        assert_eq!(confusable_with("a-two", existing), None);
        assert_eq!(
            confusable_with("\u{0444}\u{0438}\u{0447}\u{0430}", existing),
            None
        );
    }

    #[test]
    fn unleash_style_keys_are_accepted() {
        for ok in [
            "checkout",
            "Feature.UTF-8.Hellø_Wørld",
            "a",
            &"k".repeat(100),
            "x:y-z.1",
        ] {
            assert!(check_key(ok, None, None).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a/b", "tab\there", "nl\n", &"k".repeat(101)] {
            assert!(check_key(bad, None, None).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_project_pattern_is_enforced_with_its_example() {
        let p = Some("[a-z]+-[a-z0-9-]+");
        assert!(check_key("web-checkout", p, Some("web-checkout")).is_ok());
        let e = check_key("Checkout", p, Some("web-checkout")).unwrap_err();
        assert!(e.contains("web-checkout"), "{e}");
        assert!(check_pattern("[", None).is_err());
        assert!(check_pattern("[a-z]+", Some("ABC")).is_err());
    }

    #[test]
    fn tags_are_trimmed_deduplicated_and_sorted() {
        let t = check_tags(&split_tags(" b, a ,b,\n c ")).unwrap();
        assert_eq!(t, vec!["a", "b", "c"]);
    }

    #[test]
    fn only_http_links() {
        assert!(check_link("javascript:alert(1)").is_err());
        assert!(check_link("https://jira.example.com/X-1").is_ok());
    }
}
