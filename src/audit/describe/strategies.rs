//! Strategies in words: Unleash's names as the UI says them ("Gradual rollout", "Standard
//! (everyone)"), one strategy as a phrase, and what changed between two lists of them.

use super::words::{self, cap, text};
use super::{constraints, variants, Line, Names};
use serde_json::{Map, Value};

/// A strategy's name in the words of the UI.
pub fn label(name: &str) -> String {
    match name {
        "default" => "Standard (everyone)".into(),
        "flexibleRollout" => "Gradual rollout".into(),
        "userWithId" => "User IDs".into(),
        "remoteAddress" => "IP addresses".into(),
        "applicationHostname" => "Host names".into(),
        "gradualRolloutUserId" => "Gradual rollout by user ID (legacy)".into(),
        "gradualRolloutSessionId" => "Gradual rollout by session (legacy)".into(),
        "gradualRolloutRandom" => "Random rollout (legacy)".into(),
        other => format!("Custom strategy {other}"),
    }
}

/// The parameters that hold a comma-separated list, with the words for one item's kind.
fn list_param(name: &str, key: &str) -> Option<&'static str> {
    match (name, key) {
        ("userWithId", "userIds") => Some("User IDs"),
        ("remoteAddress", "IPs") => Some("IP addresses"),
        ("applicationHostname", "hostNames") => Some("Host names"),
        _ => None,
    }
}

fn params(s: &Value) -> Map<String, Value> {
    s.get("parameters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn param(s: &Value, key: &str) -> String {
    params(s).get(key).map(words::value).unwrap_or_default()
}

fn split(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s != "none")
        .collect()
}

/// "of users" when sticky by default, "of users by userId" otherwise.
fn stickiness(s: &Value) -> String {
    match param(s, "stickiness").as_str() {
        "" | "none" | "default" => "of users".to_string(),
        "random" => "of requests at random".to_string(),
        by => format!("of users by {by}"),
    }
}

/// What the strategy does, without its conditions: "Gradual rollout 30 % of users by userId".
fn head(s: &Value) -> String {
    let name = text(s, "name");
    let mut t = match name {
        "default" => label(name),
        "flexibleRollout" => format!(
            "{} {} {}",
            label(name),
            words::percent(&param(s, "rollout")),
            stickiness(s)
        ),
        "gradualRolloutUserId" | "gradualRolloutSessionId" | "gradualRolloutRandom" => {
            format!(
                "{} {}",
                label(name),
                words::percent(&param(s, "percentage"))
            )
        }
        _ => match params(s)
            .keys()
            .find_map(|k| list_param(name, k).map(|_| k.clone()))
        {
            Some(key) => format!(
                "{} {}",
                label(name),
                words::list(split(&param(s, &key)), ", ")
            ),
            None if params(s).is_empty() => label(name),
            None => format!(
                "{} ({})",
                label(name),
                words::value(&Value::Object(params(s)))
            ),
        },
    };
    if !text(s, "title").is_empty() {
        t.push_str(&format!(", titled “{}”", text(s, "title")));
    }
    if s.get("disabled").and_then(Value::as_bool) == Some(true) {
        t.push_str(" (paused)");
    }
    t
}

/// A whole strategy as one phrase: what it does, then for whom (segments, constraints), then
/// what it serves (its variants).
pub fn phrase(s: &Value, names: &Names) -> String {
    let mut t = head(s);
    let segments: Vec<String> = words::items(Some(s), "segments")
        .iter()
        .map(|id| names.segment(id))
        .collect();
    match segments.len() {
        0 => {}
        1 => t.push_str(&format!(" in segment {}", segments[0])),
        _ => t.push_str(&format!(" in segments {}", segments.join(" and "))),
    }
    let cs = words::items(Some(s), "constraints");
    if !cs.is_empty() {
        t.push_str(&format!(" when {}", constraints::all(cs)));
    }
    let vs = words::items(Some(s), "variants");
    if !vs.is_empty() {
        t.push_str(&format!(", serving {}", variants::all(vs)));
    }
    t
}

/// What changed between two lists of strategies. Equal strategies are matched first, then the
/// remaining ones of the same kind in order; the rest were added or removed. Lines name the
/// strategy by its position only when there is more than one.
pub fn diff(before: &[Value], after: &[Value], names: &Names) -> Vec<Line> {
    let mut taken = vec![false; after.len()];
    let mut rest: Vec<(usize, &Value)> = Vec::new();
    for (i, b) in before.iter().enumerate() {
        match (0..after.len()).find(|&j| !taken[j] && after[j] == *b) {
            Some(j) => taken[j] = true,
            None => rest.push((i, b)),
        }
    }
    let numbered = before.len() > 1 || after.len() > 1;
    let name = |n: usize| {
        if numbered {
            format!("Strategy {}", n + 1)
        } else {
            "Strategy".to_string()
        }
    };
    let mut lines = Vec::new();
    for (i, b) in rest {
        let same =
            (0..after.len()).find(|&j| !taken[j] && text(&after[j], "name") == text(b, "name"));
        match same {
            Some(j) => {
                taken[j] = true;
                let changes = changed(b, &after[j], names);
                if numbered {
                    let prefix = format!("{} ({})", name(j), label(text(b, "name")));
                    lines.extend(changes.into_iter().map(|l| l.within(&prefix)));
                } else {
                    lines.extend(changes);
                }
            }
            None => lines.push(Line::removed(
                name(i),
                phrase(b, names),
                format!("{} removed: {}", name(i), phrase(b, names)),
            )),
        }
    }
    for (j, a) in after.iter().enumerate().filter(|(j, _)| !taken[*j]) {
        lines.push(Line::added(
            name(j),
            phrase(a, names),
            format!("{} added: {}", name(j), phrase(a, names)),
        ));
    }
    if after.is_empty() && !before.is_empty() {
        lines.push(Line::note(
            "Strategies",
            "No strategy left: everyone gets the flag while it is on",
        ));
    }
    lines
}

/// Two strategies of the same kind: their parameters, title, pause, segments, constraints and
/// variants, each change a line.
fn changed(b: &Value, a: &Value, names: &Names) -> Vec<Line> {
    let mut lines = Vec::new();
    let name = text(a, "name");
    let (bp, ap) = (params(b), params(a));
    let mut keys: Vec<&String> = bp.keys().chain(ap.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let (was, now) = (bp.get(key).map(words::value), ap.get(key).map(words::value));
        if was == now {
            continue;
        }
        let (was, now) = (was.unwrap_or_default(), now.unwrap_or_default());
        match (key.as_str(), list_param(name, key)) {
            (_, Some(what)) => lines.extend(list_items(what, &split(&was), &split(&now))),
            ("rollout" | "percentage", _) => {
                lines.push(Line::changed(
                    "Rollout",
                    words::percent(&was),
                    words::percent(&now),
                ));
            }
            ("stickiness", _) => lines.push(Line::changed(
                "Stickiness",
                or_default(was),
                or_default(now),
            )),
            ("groupId", _) => lines.push(Line::changed("Group", or_none(was), or_none(now))),
            (other, _) => lines.push(Line::changed(
                format!("Parameter {other}"),
                or_none(was),
                or_none(now),
            )),
        }
    }
    let (bt, at) = (text(b, "title"), text(a, "title"));
    if bt != at {
        lines.push(Line::changed("Title", quoted(bt), quoted(at)));
    }
    let paused = |s: &Value| s.get("disabled").and_then(Value::as_bool) == Some(true);
    if paused(b) != paused(a) {
        let word = |p: bool| if p { "paused" } else { "active" }.to_string();
        lines.push(Line::changed("Strategy", word(paused(b)), word(paused(a))));
    }
    let segs = |s: &Value| -> Vec<String> {
        words::items(Some(s), "segments")
            .iter()
            .map(|id| names.segment(id))
            .collect()
    };
    let (bs, as_) = (segs(b), segs(a));
    for s in bs.iter().filter(|s| !as_.contains(s)) {
        lines.push(Line::removed(
            format!("Segment {s}"),
            s.clone(),
            format!("Segment {s} removed"),
        ));
    }
    for s in as_.iter().filter(|s| !bs.contains(s)) {
        lines.push(Line::added(
            format!("Segment {s}"),
            s.clone(),
            format!("Segment {s} added"),
        ));
    }
    lines.extend(constraints::diff(
        words::items(Some(b), "constraints"),
        words::items(Some(a), "constraints"),
    ));
    lines.extend(variants::diff(
        words::items(Some(b), "variants"),
        words::items(Some(a), "variants"),
    ));
    lines
}

/// Items added to and removed from a list parameter ("User IDs added: carol").
fn list_items(what: &str, was: &[String], now: &[String]) -> Vec<Line> {
    let added: Vec<String> = now.iter().filter(|v| !was.contains(v)).cloned().collect();
    let removed: Vec<String> = was.iter().filter(|v| !now.contains(v)).cloned().collect();
    let mut lines = Vec::new();
    if !added.is_empty() {
        let items = words::list(added, ", ");
        lines.push(Line::added(
            what,
            items.clone(),
            format!("{} added: {items}", cap(what)),
        ));
    }
    if !removed.is_empty() {
        let items = words::list(removed, ", ");
        lines.push(Line::removed(
            what,
            items.clone(),
            format!("{} removed: {items}", cap(what)),
        ));
    }
    lines
}

fn or_default(s: String) -> String {
    if s.is_empty() || s == "none" {
        "default".into()
    } else {
        s
    }
}

fn or_none(s: String) -> String {
    if s.is_empty() {
        "none".into()
    } else {
        s
    }
}

fn quoted(s: &str) -> String {
    if s.is_empty() {
        "none".into()
    } else {
        format!("“{s}”")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names() -> Names {
        Names::with_segments([(7, "internal".to_string()), (8, "beta testers".to_string())])
    }

    fn sentences(before: Value, after: Value) -> Vec<String> {
        let (b, a) = (
            before.as_array().cloned().unwrap(),
            after.as_array().cloned().unwrap(),
        );
        diff(&b, &a, &names())
            .into_iter()
            .map(|l| l.sentence)
            .collect()
    }

    fn rollout(r: &str) -> Value {
        json!({"name": "flexibleRollout", "parameters": {"rollout": r, "stickiness": "default", "groupId": "checkout"}})
    }

    #[test]
    fn every_strategy_has_a_name_in_words() {
        let cases = [
            (json!({"name": "default"}), "Standard (everyone)"),
            (
                json!({"name": "flexibleRollout", "parameters": {"rollout": "30", "stickiness": "userId"}}),
                "Gradual rollout 30 % of users by userId",
            ),
            (rollout("30"), "Gradual rollout 30 % of users"),
            (
                json!({"name": "flexibleRollout", "parameters": {"rollout": "5", "stickiness": "random"}}),
                "Gradual rollout 5 % of requests at random",
            ),
            (
                json!({"name": "userWithId", "parameters": {"userIds": "ann,bob"}}),
                "User IDs ann, bob",
            ),
            (
                json!({"name": "remoteAddress", "parameters": {"IPs": "10.0.0.1, 10.0.0.2"}}),
                "IP addresses 10.0.0.1, 10.0.0.2",
            ),
            (
                json!({"name": "applicationHostname", "parameters": {"hostNames": "web-1"}}),
                "Host names web-1",
            ),
            (
                json!({"name": "gradualRolloutUserId", "parameters": {"percentage": "20"}}),
                "Gradual rollout by user ID (legacy) 20 %",
            ),
            (
                json!({"name": "gradualRolloutSessionId", "parameters": {"percentage": "20"}}),
                "Gradual rollout by session (legacy) 20 %",
            ),
            (
                json!({"name": "gradualRolloutRandom", "parameters": {"percentage": "20"}}),
                "Random rollout (legacy) 20 %",
            ),
            (
                json!({"name": "pilot", "parameters": {"region": "eu"}}),
                "Custom strategy pilot (region eu)",
            ),
        ];
        for (s, words) in cases {
            assert_eq!(phrase(&s, &names()), words);
        }
    }

    #[test]
    fn a_whole_strategy_names_its_segments_constraints_and_variants() {
        let s = json!({"name": "flexibleRollout", "title": "EU pilot",
            "parameters": {"rollout": "50", "stickiness": "default"},
            "segments": [7, 99],
            "constraints": [{"contextName": "country", "operator": "IN", "values": ["DE", "FR"]}],
            "variants": [{"name": "blue", "weight": 500}, {"name": "red", "weight": 500}]});
        assert_eq!(
            phrase(&s, &names()),
            "Gradual rollout 50 % of users, titled “EU pilot” in segments internal and #99 when country in DE, FR, serving blue 50 %, red 50 %"
        );
    }

    #[test]
    fn a_rollout_change_reads_in_percent() {
        assert_eq!(
            sentences(json!([rollout("10")]), json!([rollout("25")])),
            ["Rollout 10 % → 25 %"]
        );
    }

    #[test]
    fn an_added_strategy_is_described_whole() {
        let added = json!({"name": "flexibleRollout", "parameters": {"rollout": "30", "stickiness": "userId"}});
        assert_eq!(
            sentences(json!([]), json!([added])),
            ["Strategy added: Gradual rollout 30 % of users by userId"]
        );
        assert_eq!(
            sentences(json!([{"name": "default"}]), json!([])),
            [
                "Strategy removed: Standard (everyone)",
                "No strategy left: everyone gets the flag while it is on"
            ]
        );
    }

    #[test]
    fn with_several_strategies_lines_say_which() {
        let before = json!([{"name": "default"}, rollout("10")]);
        let after = json!([{"name": "default"}, rollout("25"), {"name": "userWithId", "parameters": {"userIds": "ann"}}]);
        assert_eq!(
            sentences(before, after),
            [
                "Strategy 2 (Gradual rollout): rollout 10 % → 25 %",
                "Strategy 3 added: User IDs ann"
            ]
        );
    }

    #[test]
    fn parameters_segments_constraints_and_variants_inside_a_strategy() {
        let before = json!([{"name": "userWithId", "parameters": {"userIds": "ann,bob"}, "segments": [7],
            "constraints": [{"contextName": "country", "operator": "IN", "values": ["DE", "FR"]}]}]);
        let after = json!([{"name": "userWithId", "parameters": {"userIds": "ann,carol"}, "segments": [8],
            "constraints": [{"contextName": "country", "operator": "IN", "values": ["DE", "FR", "NL"]}],
            "variants": [{"name": "blue", "weight": 1000}]}]);
        assert_eq!(
            sentences(before, after),
            [
                "User IDs added: carol",
                "User IDs removed: bob",
                "Segment internal removed",
                "Segment beta testers added",
                "Country in DE, FR → DE, FR, NL",
                "Variant blue added: 100 %"
            ]
        );
    }

    #[test]
    fn stickiness_group_title_and_pause() {
        let b = json!([{"name": "flexibleRollout", "parameters": {"rollout": "50", "stickiness": "default", "groupId": "a"}}]);
        let a = json!([{"name": "flexibleRollout", "title": "Pilot", "disabled": true,
            "parameters": {"rollout": "50", "stickiness": "userId", "groupId": "b"}}]);
        assert_eq!(
            sentences(b, a),
            [
                "Group a → b",
                "Stickiness default → userId",
                "Title none → “Pilot”",
                "Strategy active → paused"
            ]
        );
    }

    #[test]
    fn a_strategy_of_another_kind_is_a_removal_and_an_addition() {
        assert_eq!(
            sentences(json!([{"name": "default"}]), json!([rollout("20")])),
            [
                "Strategy removed: Standard (everyone)",
                "Strategy added: Gradual rollout 20 % of users"
            ]
        );
    }
}
