//! Text formats the engine's strategy grammar accepts, checked exactly.
//! yggdrasil pastes constraint values into a rule text and parses that, so a
//! value that is not exactly one token can change the rule's meaning
//! (`NUM_GT` with value `1 or true` compiles to "always on").

use std::net::IpAddr;

/// `0`..=`100`, digits only: what `get_rollout_target` and the `percentage`
/// grammar rule both accept.
pub(super) fn is_percent(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && text.parse::<u32>().is_ok_and(|p| p <= 100)
}

/// Text that is pasted unescaped into a quoted rule string (context names,
/// group ids, stickiness, host names) must not close or escape the quotes.
pub(super) fn is_rule_safe(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c == '"' || c == '\\' || c.is_control())
}

/// Quoted values are escaped by the engine, but a trailing backslash still
/// escapes the closing quote.
pub(super) fn ends_with_backslash(text: &str) -> bool {
    text.ends_with('\\')
}

/// An IP address or a CIDR block, v4 or v6.
pub(super) fn is_ip_or_cidr(text: &str) -> bool {
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let Ok(address) = address.parse::<IpAddr>() else {
        return false;
    };
    let max = if address.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|p| {
        p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u8>().is_ok_and(|p| p <= max)
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.mmm](Z|±HH:MM)`: the grammar's `date` rule, which is
/// stricter than RFC 3339 (exactly three fraction digits, upper-case `T`).
pub(super) fn is_grammar_date(text: &str) -> bool {
    let Some(rest) = strip_pattern(text, "dddd-dd-ddTdd:dd:dd") else {
        return false;
    };
    let rest = strip_pattern(rest, ".ddd").unwrap_or(rest);
    rest == "Z"
        || ["+dd:dd", "-dd:dd"]
            .iter()
            .any(|zone| strip_pattern(rest, zone) == Some(""))
}

/// `d` matches one ASCII digit, anything else itself.
fn strip_pattern<'a>(text: &'a str, pattern: &str) -> Option<&'a str> {
    let head = text.get(..pattern.len())?;
    let fits = head.bytes().zip(pattern.bytes()).all(|(c, p)| {
        if p == b'd' {
            c.is_ascii_digit()
        } else {
            c == p
        }
    });
    fits.then(|| &text[pattern.len()..])
}

/// `MAJOR.MINOR.PATCH[-pre][+build]`: the grammar's `semver` rule. A leading
/// `v` is not a version: the engine silently evaluates it as false.
pub(super) fn is_grammar_semver(text: &str) -> bool {
    let (version, build) = split_once_opt(text, '+');
    let (core, pre) = split_once_opt(version, '-');
    let numbers: Vec<&str> = core.split('.').collect();
    let numeric = |part: &&str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    numbers.len() == 3
        && numbers.iter().all(numeric)
        && pre.is_none_or(is_semver_fragment)
        && build.is_none_or(is_semver_fragment)
}

fn split_once_opt(text: &str, separator: char) -> (&str, Option<&str>) {
    match text.split_once(separator) {
        Some((head, tail)) => (head, Some(tail)),
        None => (text, None),
    }
}

fn is_semver_fragment(text: &str) -> bool {
    text.split('.').all(|part| {
        !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages() {
        for (text, ok) in [
            ("0", true),
            ("100", true),
            ("050", true),
            ("101", false),
            ("-1", false),
            ("50.5", false),
            ("", false),
            (" 5", false),
            ("1e2", false),
        ] {
            assert_eq!(is_percent(text), ok, "{text:?}");
        }
    }

    #[test]
    fn dates() {
        for (text, ok) in [
            ("2024-01-31T10:00:00Z", true),
            ("2024-01-31T10:00:00.123+02:00", true),
            ("2024-01-31T10:00:00-05:30", true),
            ("2024-01-31", false),
            ("2024-01-31t10:00:00Z", false),
            ("2024-01-31T10:00:00.1Z", false),
            ("2024-01-31T10:00:00", false),
            ("2024-01-31T10:00:00Z or true", false),
        ] {
            assert_eq!(is_grammar_date(text), ok, "{text:?}");
        }
    }

    #[test]
    fn semvers() {
        for (text, ok) in [
            ("1.2.3", true),
            ("1.2.3-rc.1", true),
            ("1.2.3-alpha-1+build.5", true),
            ("v1.2.3", false),
            ("1.2", false),
            ("1.2.3-", false),
            ("1.2.3 or true", false),
            ("1..3", false),
        ] {
            assert_eq!(is_grammar_semver(text), ok, "{text:?}");
        }
    }

    #[test]
    fn ips() {
        for (text, ok) in [
            ("10.0.0.1", true),
            ("10.0.0.0/8", true),
            ("::1", true),
            ("2001:db8::/32", true),
            ("10.0.0.0/33", false),
            ("10.0.0", false),
            ("\"10.0.0.1", false),
            ("10.0.0.0/", false),
        ] {
            assert_eq!(is_ip_or_cidr(text), ok, "{text:?}");
        }
    }

    #[test]
    fn rule_safety() {
        assert!(is_rule_safe("tenant.id"));
        assert!(!is_rule_safe("a\"] or true or [\""));
        assert!(!is_rule_safe("a\\"));
        assert!(ends_with_backslash("abc\\"));
    }
}
