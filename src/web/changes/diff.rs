//! A change request item's before and after in words ("rollout 10 % → 25 %", "constraint
//! country IN NO, SE added"), for reviewers (issue 4, "a readable diff"). Pure: JSON in, lines out.

use serde_json::{Map, Value};

/// One line of a diff: `class` is `add`, `del` or `ctx` (the `.diff` vocabulary of app.css).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub class: &'static str,
    pub text: String,
}

fn line(class: &'static str, text: impl Into<String>) -> Line {
    Line {
        class,
        text: text.into(),
    }
}

/// The lines for one item of `kind` (toggle, strategies, variants, archive, segment).
pub fn describe(kind: &str, before: &Value, after: &Value) -> Vec<Line> {
    let lines = match kind {
        "toggle" => toggle(before, after),
        "strategies" => strategies(list(before, "strategies"), list(after, "strategies")),
        "variants" => variants(list(before, "variants"), list(after, "variants"), ""),
        "archive" => vec![
            line("del", "live: served to SDKs"),
            line("add", "archived: no longer served to SDKs"),
        ],
        "segment" => segment(before, after),
        "protection" => protection(before, after),
        "dependencies" => dependencies(before, after),
        _ => Vec::new(),
    };
    if lines.is_empty() {
        vec![line("ctx", "no difference from the live configuration")]
    } else {
        lines
    }
}

/// "depends on checkout being on" lines, removed and added; then where it serves differently.
fn dependencies(before: &Value, after: &Value) -> Vec<Line> {
    let words = |d: &Value| {
        let parent = d.get("feature").and_then(Value::as_str).unwrap_or("?");
        let on = d.get("enabled").and_then(Value::as_bool).unwrap_or(true);
        let variants: Vec<String> = list(d, "variants").iter().map(plain).collect();
        match (on, variants.is_empty()) {
            (false, _) => format!("depends on {parent} being off"),
            (true, true) => format!("depends on {parent} being on"),
            (true, false) => format!("depends on {parent} serving {}", variants.join(", ")),
        }
    };
    let (was, now) = (list(before, "dependencies"), list(after, "dependencies"));
    let mut lines: Vec<Line> = was
        .iter()
        .filter(|d| !now.contains(d))
        .map(|d| line("del", words(d)))
        .chain(
            now.iter()
                .filter(|d| !was.contains(d))
                .map(|d| line("add", words(d))),
        )
        .collect();
    let envs: Vec<String> = list(after, "environments").iter().map(plain).collect();
    if !lines.is_empty() && !envs.is_empty() {
        lines.push(line(
            "ctx",
            format!("serves differently in {}", envs.join(", ")),
        ));
    }
    lines
}

/// "protected, 2 approvals → not protected": how changes here are reviewed, before and after.
fn protection(before: &Value, after: &Value) -> Vec<Line> {
    let words = |v: &Value| {
        let n = v
            .get("requiredApprovals")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        match v.get("protected").and_then(Value::as_bool) {
            Some(true) => format!(
                "protected: changes need {n} approval{}",
                if n == 1 { "" } else { "s" }
            ),
            Some(false) => "not protected: changes apply at once, without review".to_string(),
            None => "unknown".to_string(),
        }
    };
    if before == after {
        return Vec::new();
    }
    vec![line("del", words(before)), line("add", words(after))]
}

fn list<'a>(v: &'a Value, field: &str) -> &'a [Value] {
    v.get(field)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn on_off(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "on",
        Some(false) => "off",
        None => "unknown",
    }
}

fn toggle(before: &Value, after: &Value) -> Vec<Line> {
    let (b, a) = (
        before.get("enabled").and_then(Value::as_bool),
        after.get("enabled").and_then(Value::as_bool),
    );
    if b == a {
        return Vec::new();
    }
    vec![line(
        "ctx",
        format!("switched {} → {}", on_off(b), on_off(a)),
    )]
}

/// A constraint as a reviewer reads it: `country IN NO, SE`, `NOT plan IN free`.
pub fn constraint(c: &Value) -> String {
    let s = |f: &str| c.get(f).and_then(Value::as_str).unwrap_or("");
    let values: Vec<String> = match c.get("values").and_then(Value::as_array) {
        Some(vs) if !vs.is_empty() => vs.iter().map(plain).collect(),
        _ => c.get("value").map(plain).into_iter().collect(),
    };
    let not = if c.get("inverted").and_then(Value::as_bool) == Some(true) {
        "NOT "
    } else {
        ""
    };
    let case = if c.get("caseInsensitive").and_then(Value::as_bool) == Some(true) {
        " (ignoring case)"
    } else {
        ""
    };
    format!(
        "{not}{} {} {}{case}",
        s("contextName"),
        s("operator"),
        values.join(", ")
    )
    .trim_end()
    .to_string()
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

fn params(s: &Value) -> Map<String, Value> {
    s.get("parameters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// A parameter's value in words: rollout is a percentage.
fn param(key: &str, v: Option<&Value>) -> String {
    match v {
        None => "unset".into(),
        Some(v) if key == "rollout" => format!("{} %", plain(v)),
        Some(v) => plain(v),
    }
}

fn strategy_name(s: &Value) -> String {
    let name = s.get("name").and_then(Value::as_str).unwrap_or("strategy");
    match s
        .get("title")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        Some(t) => format!("{name} “{t}”"),
        None => name.to_string(),
    }
}

/// A strategy in one phrase, for an added or removed one.
fn strategy_phrase(s: &Value) -> String {
    let mut parts: Vec<String> = params(s)
        .iter()
        .map(|(k, v)| format!("{k} {}", param(k, Some(v))))
        .collect();
    parts.extend(list(s, "constraints").iter().map(constraint));
    parts.extend(
        list(s, "segments")
            .iter()
            .map(|g| format!("segment {}", plain(g))),
    );
    if parts.is_empty() {
        strategy_name(s)
    } else {
        format!("{} ({})", strategy_name(s), parts.join("; "))
    }
}

fn strategies(before: &[Value], after: &[Value]) -> Vec<Line> {
    let mut out = Vec::new();
    for i in 0..before.len().max(after.len()) {
        let n = i + 1;
        match (before.get(i), after.get(i)) {
            (Some(b), Some(a)) => out.extend(strategy_change(n, b, a)),
            (None, Some(a)) => out.push(line(
                "add",
                format!("strategy {n} added: {}", strategy_phrase(a)),
            )),
            (Some(b), None) => out.push(line(
                "del",
                format!("strategy {n} removed: {}", strategy_phrase(b)),
            )),
            (None, None) => {}
        }
    }
    out
}

fn strategy_change(n: usize, b: &Value, a: &Value) -> Vec<Line> {
    let mut out = Vec::new();
    let (bn, an) = (strategy_name(b), strategy_name(a));
    if bn != an {
        out.push(line("ctx", format!("strategy {n}: {bn} → {an}")));
    }
    let (bp, ap) = (params(b), params(a));
    let mut keys: Vec<&String> = bp.keys().chain(ap.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        if bp.get(k) != ap.get(k) {
            out.push(line(
                "ctx",
                format!(
                    "strategy {n} ({an}): {k} {} → {}",
                    param(k, bp.get(k)),
                    param(k, ap.get(k))
                ),
            ));
        }
    }
    let bc: Vec<String> = list(b, "constraints").iter().map(constraint).collect();
    let ac: Vec<String> = list(a, "constraints").iter().map(constraint).collect();
    for c in bc.iter().filter(|c| !ac.contains(c)) {
        out.push(line("del", format!("strategy {n}: constraint {c} removed")));
    }
    for c in ac.iter().filter(|c| !bc.contains(c)) {
        out.push(line("add", format!("strategy {n}: constraint {c} added")));
    }
    let bs: Vec<String> = list(b, "segments").iter().map(plain).collect();
    let as_: Vec<String> = list(a, "segments").iter().map(plain).collect();
    for s in bs.iter().filter(|s| !as_.contains(s)) {
        out.push(line("del", format!("strategy {n}: segment {s} removed")));
    }
    for s in as_.iter().filter(|s| !bs.contains(s)) {
        out.push(line("add", format!("strategy {n}: segment {s} added")));
    }
    let prefix = format!("strategy {n}: ");
    out.extend(variants(list(b, "variants"), list(a, "variants"), &prefix));
    out
}

fn variant_name(v: &Value) -> String {
    v.get("name").map(plain).unwrap_or_default()
}

/// Weights are in thousandths, as in Unleash: 500 is 50 %.
fn weight(v: &Value) -> String {
    match v.get("weight").and_then(Value::as_i64) {
        Some(w) if w % 10 == 0 => format!("{} %", w / 10),
        Some(w) => format!("{:.1} %", w as f64 / 10.0),
        None => "no weight".into(),
    }
}

fn variants(before: &[Value], after: &[Value], prefix: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let find = |list: &[Value], name: &str| list.iter().find(|v| variant_name(v) == name).cloned();
    for b in before {
        let name = variant_name(b);
        match find(after, &name) {
            None => out.push(line(
                "del",
                format!("{prefix}variant {name} ({}) removed", weight(b)),
            )),
            Some(a) => {
                if weight(b) != weight(&a) {
                    out.push(line(
                        "ctx",
                        format!(
                            "{prefix}variant {name}: weight {} → {}",
                            weight(b),
                            weight(&a)
                        ),
                    ));
                }
                if b.get("payload") != a.get("payload") {
                    out.push(line(
                        "ctx",
                        format!(
                            "{prefix}variant {name}: payload {} → {}",
                            payload(b),
                            payload(&a)
                        ),
                    ));
                }
            }
        }
    }
    for a in after {
        let name = variant_name(a);
        if find(before, &name).is_none() {
            out.push(line(
                "add",
                format!("{prefix}variant {name} ({}) added", weight(a)),
            ));
        }
    }
    out
}

fn payload(v: &Value) -> String {
    match v.get("payload") {
        None | Some(Value::Null) => "none".into(),
        Some(p) => p.get("value").map(plain).unwrap_or_else(|| p.to_string()),
    }
}

fn segment(before: &Value, after: &Value) -> Vec<Line> {
    let mut out = Vec::new();
    for field in ["name", "description"] {
        let (b, a) = (before.get(field), after.get(field));
        if b != a {
            out.push(line(
                "ctx",
                format!(
                    "{field}: {} → {}",
                    b.map(plain).unwrap_or_default(),
                    a.map(plain).unwrap_or_default()
                ),
            ));
        }
    }
    let bc: Vec<String> = list(before, "constraints").iter().map(constraint).collect();
    let ac: Vec<String> = list(after, "constraints").iter().map(constraint).collect();
    for c in bc.iter().filter(|c| !ac.contains(c)) {
        out.push(line("del", format!("constraint {c} removed")));
    }
    for c in ac.iter().filter(|c| !bc.contains(c)) {
        out.push(line("add", format!("constraint {c} added")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts(kind: &str, before: Value, after: Value) -> Vec<(&'static str, String)> {
        describe(kind, &before, &after)
            .into_iter()
            .map(|l| (l.class, l.text))
            .collect()
    }

    #[test]
    fn a_toggle_reads_as_on_to_off() {
        let got = texts(
            "toggle",
            json!({"enabled": true}),
            json!({"enabled": false}),
        );
        assert_eq!(got, [("ctx", "switched on → off".to_string())]);
    }

    #[test]
    fn a_rollout_change_reads_in_percent() {
        let s = |r: &str| json!({"strategies": [{"name": "flexibleRollout", "parameters": {"rollout": r}}]});
        let got = texts("strategies", s("10"), s("25"));
        assert_eq!(
            got,
            [(
                "ctx",
                "strategy 1 (flexibleRollout): rollout 10 % → 25 %".to_string()
            )]
        );
    }

    #[test]
    fn an_added_constraint_is_named_with_its_values() {
        let before = json!({"strategies": [{"name": "default"}]});
        let after = json!({"strategies": [{"name": "default", "constraints": [
            {"contextName": "country", "operator": "IN", "values": ["NO", "SE"]}]}]});
        let got = texts("strategies", before, after);
        assert_eq!(
            got,
            [(
                "add",
                "strategy 1: constraint country IN NO, SE added".to_string()
            )]
        );
    }

    #[test]
    fn added_and_removed_strategies_are_described_whole() {
        let before = json!({"strategies": []});
        let after = json!({"strategies": [{"name": "flexibleRollout", "parameters": {"rollout": "50"},
            "constraints": [{"contextName": "plan", "operator": "IN", "values": ["beta"], "inverted": true}]}]});
        let got = texts("strategies", before.clone(), after.clone());
        assert_eq!(
            got,
            [(
                "add",
                "strategy 1 added: flexibleRollout (rollout 50 %; NOT plan IN beta)".to_string()
            )]
        );
        let got = texts("strategies", after, before);
        assert_eq!(got[0].0, "del");
        assert!(got[0].1.starts_with("strategy 1 removed: flexibleRollout"));
    }

    #[test]
    fn variant_weights_read_in_percent() {
        let before =
            json!({"variants": [{"name": "blue", "weight": 500}, {"name": "red", "weight": 500}]});
        let after = json!({"variants": [{"name": "blue", "weight": 250}, {"name": "green", "weight": 750}]});
        let got = texts("variants", before, after);
        assert_eq!(
            got,
            [
                ("ctx", "variant blue: weight 50 % → 25 %".to_string()),
                ("del", "variant red (50 %) removed".to_string()),
                ("add", "variant green (75 %) added".to_string()),
            ]
        );
    }

    #[test]
    fn archiving_and_segments_and_no_change() {
        let got = texts(
            "archive",
            json!({"archived": false}),
            json!({"archived": true}),
        );
        assert_eq!(
            got[1],
            ("add", "archived: no longer served to SDKs".to_string())
        );
        let before = json!({"name": "nordics", "constraints": []});
        let after = json!({"name": "nordics", "constraints": [
            {"contextName": "country", "operator": "IN", "values": ["NO"]}]});
        let got = texts("segment", before, after);
        assert_eq!(got, [("add", "constraint country IN NO added".to_string())]);
        let same = json!({"enabled": true});
        let got = texts("toggle", same.clone(), same);
        assert_eq!(got[0].0, "ctx");
    }
}
