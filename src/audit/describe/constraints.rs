//! Constraints in words: every operator of the spec (feed-protocols 3), inverted or not, with
//! case-insensitivity, and a list of constraints compared with another ("Country in DE, FR →
//! DE, FR, NL"). Used by strategies and by segments.

use super::words::{self, cap, text};
use super::Line;
use serde_json::Value;

/// How an operator reads: the phrase, the phrase when inverted, and how its values are joined.
fn operator(op: &str) -> (&'static str, &'static str, &'static str) {
    match op {
        "IN" => ("in", "not in", ", "),
        "NOT_IN" => ("not in", "in", ", "),
        "STR_CONTAINS" => ("contains", "does not contain", " or "),
        "STR_STARTS_WITH" => ("starts with", "does not start with", " or "),
        "STR_ENDS_WITH" => ("ends with", "does not end with", " or "),
        "NUM_EQ" => ("equals", "does not equal", ", "),
        "NUM_GT" => ("is greater than", "is at most", ", "),
        "NUM_GTE" => ("is at least", "is less than", ", "),
        "NUM_LT" => ("is less than", "is at least", ", "),
        "NUM_LTE" => ("is at most", "is greater than", ", "),
        "DATE_AFTER" => ("is after", "is not after", ", "),
        "DATE_BEFORE" => ("is before", "is not before", ", "),
        "SEMVER_EQ" => ("is version", "is not version", ", "),
        "SEMVER_GT" => ("is later than version", "is at most version", ", "),
        "SEMVER_GTE" => ("is at least version", "is earlier than version", ", "),
        "SEMVER_LT" => ("is earlier than version", "is at least version", ", "),
        "SEMVER_LTE" => ("is at most version", "is later than version", ", "),
        "REGEX" => ("matches", "does not match", " or "),
        "IN_CIDR" => ("is in the network", "is not in the network", " or "),
        _ => ("", "", ", "),
    }
}

fn flag(c: &Value, field: &str) -> bool {
    c.get(field).and_then(Value::as_bool).unwrap_or(false)
}

/// The operator of a constraint in words, inversion and case included: "not in", "ends with".
fn verb(c: &Value) -> String {
    let op = text(c, "operator");
    let (plain, inverted, _) = operator(op);
    let mut verb = match (plain.is_empty(), flag(c, "inverted")) {
        (true, false) => op.to_string(),
        (true, true) => format!("not {op}"),
        (false, false) => plain.to_string(),
        (false, true) => inverted.to_string(),
    };
    if flag(c, "caseInsensitive") {
        verb.push_str(" (ignoring case)");
    }
    verb
}

/// The values a constraint compares with: its list, or its single value.
fn values(c: &Value) -> String {
    let (_, _, sep) = operator(text(c, "operator"));
    match c.get("values").and_then(Value::as_array) {
        Some(vs) if !vs.is_empty() => words::list(vs.iter().map(words::value), sep),
        _ => c.get("value").map(words::value).unwrap_or_default(),
    }
}

/// A constraint as a phrase: "country in DE, FR", "email ends with @example.com (ignoring case)".
pub fn phrase(c: &Value) -> String {
    let values = values(c);
    let head = format!("{} {}", text(c, "contextName"), verb(c));
    if values.is_empty() {
        head
    } else if let Some(verb) = head.strip_suffix(" (ignoring case)") {
        format!("{verb} {values} (ignoring case)")
    } else {
        format!("{head} {values}")
    }
}

/// Several constraints as one condition: "country in DE and plan not in free".
pub fn all(cs: &[Value]) -> String {
    cs.iter().map(phrase).collect::<Vec<_>>().join(" and ")
}

/// What changed between two lists of constraints. Equal constraints are matched first; a
/// remaining one on the same context field is read as changed, the rest as added or removed.
pub fn diff(before: &[Value], after: &[Value]) -> Vec<Line> {
    let mut taken = vec![false; after.len()];
    let mut rest: Vec<&Value> = Vec::new();
    for b in before {
        match (0..after.len()).find(|&i| !taken[i] && after[i] == *b) {
            Some(i) => taken[i] = true,
            None => rest.push(b),
        }
    }
    let mut lines = Vec::new();
    for b in rest {
        let same_field = (0..after.len())
            .find(|&i| !taken[i] && text(&after[i], "contextName") == text(b, "contextName"));
        match same_field {
            Some(i) => {
                taken[i] = true;
                lines.push(changed(b, &after[i]));
            }
            None => lines.push(Line::removed(
                "Constraint",
                phrase(b),
                format!("Constraint removed: {}", phrase(b)),
            )),
        }
    }
    for (i, a) in after.iter().enumerate().filter(|(i, _)| !taken[*i]) {
        let _ = i;
        lines.push(Line::added(
            "Constraint",
            phrase(a),
            format!("Constraint added: {}", phrase(a)),
        ));
    }
    lines
}

/// One constraint on the same field, changed: only its values when the operator stayed.
fn changed(b: &Value, a: &Value) -> Line {
    if verb(b) == verb(a) {
        let subject = cap(&format!("{} {}", text(a, "contextName"), verb(a)));
        return Line::changed(subject, values(b), values(a));
    }
    let subject = cap(text(a, "contextName"));
    Line {
        sentence: format!("{} → {}", cap(&phrase(b)), phrase(a)),
        ..Line::changed(subject, phrase(b), phrase(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn c(op: &str, values: &[&str]) -> Value {
        json!({"contextName": "ctx", "operator": op, "values": values})
    }

    fn one(op: &str, value: &str) -> Value {
        json!({"contextName": "ctx", "operator": op, "value": value})
    }

    #[test]
    fn every_operator_reads_as_words_plain_and_inverted() {
        let cases = [
            (c("IN", &["a", "b"]), "ctx in a, b", "ctx not in a, b"),
            (c("NOT_IN", &["a"]), "ctx not in a", "ctx in a"),
            (
                c("STR_CONTAINS", &["x", "y"]),
                "ctx contains x or y",
                "ctx does not contain x or y",
            ),
            (
                c("STR_STARTS_WITH", &["x"]),
                "ctx starts with x",
                "ctx does not start with x",
            ),
            (
                c("STR_ENDS_WITH", &["@a.io"]),
                "ctx ends with @a.io",
                "ctx does not end with @a.io",
            ),
            (one("NUM_EQ", "3"), "ctx equals 3", "ctx does not equal 3"),
            (
                one("NUM_GT", "3"),
                "ctx is greater than 3",
                "ctx is at most 3",
            ),
            (
                one("NUM_GTE", "3"),
                "ctx is at least 3",
                "ctx is less than 3",
            ),
            (
                one("NUM_LT", "3"),
                "ctx is less than 3",
                "ctx is at least 3",
            ),
            (
                one("NUM_LTE", "3"),
                "ctx is at most 3",
                "ctx is greater than 3",
            ),
            (
                one("DATE_AFTER", "2030-01-01T00:00:00Z"),
                "ctx is after 2030-01-01T00:00:00Z",
                "ctx is not after 2030-01-01T00:00:00Z",
            ),
            (
                one("DATE_BEFORE", "2030-01-01"),
                "ctx is before 2030-01-01",
                "ctx is not before 2030-01-01",
            ),
            (
                one("SEMVER_EQ", "1.2.3"),
                "ctx is version 1.2.3",
                "ctx is not version 1.2.3",
            ),
            (
                one("SEMVER_GT", "1.2.3"),
                "ctx is later than version 1.2.3",
                "ctx is at most version 1.2.3",
            ),
            (
                one("SEMVER_GTE", "1.2.3"),
                "ctx is at least version 1.2.3",
                "ctx is earlier than version 1.2.3",
            ),
            (
                one("SEMVER_LT", "1.2.3"),
                "ctx is earlier than version 1.2.3",
                "ctx is at least version 1.2.3",
            ),
            (
                one("SEMVER_LTE", "1.2.3"),
                "ctx is at most version 1.2.3",
                "ctx is later than version 1.2.3",
            ),
            (
                one("REGEX", "^a.*"),
                "ctx matches ^a.*",
                "ctx does not match ^a.*",
            ),
            (
                c("IN_CIDR", &["10.0.0.0/8"]),
                "ctx is in the network 10.0.0.0/8",
                "ctx is not in the network 10.0.0.0/8",
            ),
        ];
        for (constraint, plain, inverted) in cases {
            assert_eq!(phrase(&constraint), plain);
            let mut inv = constraint.clone();
            inv["inverted"] = json!(true);
            assert_eq!(phrase(&inv), inverted);
        }
    }

    #[test]
    fn case_insensitivity_is_said_after_the_values() {
        let mut e = c("STR_ENDS_WITH", &["@example.com"]);
        e["contextName"] = json!("email");
        e["caseInsensitive"] = json!(true);
        assert_eq!(phrase(&e), "email ends with @example.com (ignoring case)");
        e["inverted"] = json!(true);
        assert_eq!(
            phrase(&e),
            "email does not end with @example.com (ignoring case)"
        );
    }

    fn sentences(lines: Vec<Line>) -> Vec<String> {
        lines.into_iter().map(|l| l.sentence).collect()
    }

    #[test]
    fn changed_values_read_as_before_and_after() {
        let country =
            |vs: &[&str]| json!({"contextName": "country", "operator": "IN", "values": vs});
        let got = diff(&[country(&["DE", "FR"])], &[country(&["DE", "FR", "NL"])]);
        assert_eq!(sentences(got.clone()), ["Country in DE, FR → DE, FR, NL"]);
        assert_eq!(got[0].before.as_deref(), Some("DE, FR"));
        assert_eq!(got[0].after.as_deref(), Some("DE, FR, NL"));
    }

    #[test]
    fn a_changed_operator_repeats_the_whole_condition() {
        let b = json!({"contextName": "country", "operator": "IN", "values": ["DE"]});
        let a = json!({"contextName": "country", "operator": "NOT_IN", "values": ["DE"]});
        assert_eq!(
            sentences(diff(&[b], &[a])),
            ["Country in DE → country not in DE"]
        );
    }

    #[test]
    fn added_removed_and_unchanged_constraints() {
        let plan = json!({"contextName": "plan", "operator": "IN", "values": ["pro"]});
        let country = json!({"contextName": "country", "operator": "IN", "values": ["DE"]});
        let version =
            json!({"contextName": "appVersion", "operator": "SEMVER_GTE", "value": "2.0.0"});
        let got = diff(&[plan.clone(), country], &[plan, version]);
        assert_eq!(
            sentences(got),
            [
                "Constraint removed: country in DE",
                "Constraint added: appVersion is at least version 2.0.0"
            ]
        );
        assert!(diff(&[], &[]).is_empty());
    }
}
