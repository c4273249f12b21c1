//! Values in words: the small vocabulary every describer shares, so that a list, a percentage or
//! an empty value reads the same on every page, and nothing reaches a person as JSON.

use serde_json::Value;

/// The longest value shown whole; longer ones are cut with an ellipsis (the raw entry keeps it).
const MAX_CHARS: usize = 120;
/// The most items of a list shown; the rest are counted ("and 12 more").
const MAX_ITEMS: usize = 8;

/// A value as a person reads it: text without quotes, yes/no, lists joined with commas, objects
/// as "key value" pairs, none for null.
pub fn value(v: &Value) -> String {
    let text = match v {
        Value::Null => "none".to_string(),
        Value::Bool(true) => "yes".to_string(),
        Value::Bool(false) => "no".to_string(),
        Value::String(s) if s.trim().is_empty() => "none".to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) if items.is_empty() => "none".to_string(),
        Value::Array(items) => list(items.iter().map(value), ", "),
        Value::Object(m) => m
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{} {}", human(k).to_lowercase(), value(v)))
            .collect::<Vec<_>>()
            .join(", "),
    };
    cut(&text)
}

/// Text no longer than [`MAX_CHARS`].
pub fn cut(s: &str) -> String {
    if s.chars().count() <= MAX_CHARS {
        return s.to_string();
    }
    let mut t: String = s.chars().take(MAX_CHARS - 1).collect();
    t.push('…');
    t
}

/// Items joined with `sep`, at most [`MAX_ITEMS`] of them, then "and N more".
pub fn list(items: impl IntoIterator<Item = String>, sep: &str) -> String {
    let items: Vec<String> = items.into_iter().collect();
    if items.len() <= MAX_ITEMS {
        return items.join(sep);
    }
    let rest = items.len() - MAX_ITEMS;
    format!("{} and {rest} more", items[..MAX_ITEMS].join(sep))
}

/// `field` of an object as a list (empty when missing or not a list).
pub fn items<'a>(v: Option<&'a Value>, field: &str) -> &'a [Value] {
    v.and_then(|v| v.get(field))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `field` of an object as text ("" when missing).
pub fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or("")
}

/// The first letter in upper case, for a phrase that starts a sentence.
pub fn cap(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The first letter in lower case, for a sentence that continues after a prefix; words that are
/// capitals throughout ("IP addresses", "URL") keep them.
pub fn uncap(s: &str) -> String {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(a), Some(b)) if b.is_lowercase() || b == ' ' => {
            a.to_lowercase().chain([b]).chain(chars).collect()
        }
        _ => s.to_string(),
    }
}

/// A field name as words: `requiredApprovals` reads "Required approvals".
pub fn human(key: &str) -> String {
    let mut out = String::new();
    for (i, c) in key.chars().enumerate() {
        if c == '_' || c == '-' {
            out.push(' ');
        } else if c.is_uppercase() && i > 0 {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    cap(&out)
}

/// Unleash weights are thousandths: 500 reads "50 %", 333 "33.3 %".
pub fn weight(thousandths: i64) -> String {
    if thousandths % 10 == 0 {
        format!("{} %", thousandths / 10)
    } else {
        format!("{:.1} %", thousandths as f64 / 10.0)
    }
}

/// A percentage parameter ("25") as "25 %".
pub fn percent(v: &str) -> String {
    if v.trim().is_empty() {
        "unset".to_string()
    } else {
        format!("{} %", v.trim())
    }
}

/// "1 change", "2 changes".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_read_without_json() {
        assert_eq!(value(&json!("DE")), "DE");
        assert_eq!(value(&json!(null)), "none");
        assert_eq!(value(&json!(true)), "yes");
        assert_eq!(value(&json!(["a", 1])), "a, 1");
        assert_eq!(
            value(&json!({"user": "ann", "role": "editor"})),
            "role editor, user ann"
        );
        assert_eq!(value(&json!([])), "none");
    }

    #[test]
    fn long_lists_and_texts_are_cut() {
        let many = (1..=10).map(|i| i.to_string());
        assert_eq!(list(many, ", "), "1, 2, 3, 4, 5, 6, 7, 8 and 2 more");
        assert_eq!(cut(&"x".repeat(200)).chars().count(), MAX_CHARS);
    }

    #[test]
    fn words_and_numbers() {
        assert_eq!(human("requiredApprovals"), "Required approvals");
        assert_eq!(uncap("Rollout 10 %"), "rollout 10 %");
        assert_eq!(uncap("IP addresses"), "IP addresses");
        assert_eq!(weight(500), "50 %");
        assert_eq!(weight(333), "33.3 %");
        assert_eq!(percent("25"), "25 %");
    }
}
