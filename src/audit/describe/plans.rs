//! Release templates and plans in words: a milestone ("1 %: Gradual rollout 1 % of users, hold
//! 1 h"), a guard ("ratio of http_errors to http_requests above 1.5 × baseline over 5 min,
//! sustained 2 min"), and what each plan entry says happened (started, advanced, rolled back
//! with its evidence, reviewed).

use super::words::{self, text};
use super::{strategies, Line, Names};
use serde_json::Value;

/// "1 h", "90 min", "2 d".
pub fn duration_minutes(m: i64) -> String {
    match m {
        m if m % 1440 == 0 => format!("{} d", m / 1440),
        m if m % 60 == 0 => format!("{} h", m / 60),
        m => format!("{m} min"),
    }
}

/// "30 s", "5 min", "2 h".
pub fn duration_seconds(s: i64) -> String {
    match s {
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// What one milestone serves: its strategies as phrases, "everyone" when it has none.
pub fn milestone_serves(m: &Value, names: &Names) -> String {
    let list = words::items(Some(m), "strategies");
    if list.is_empty() {
        return "everyone".into();
    }
    list.iter()
        .map(|s| {
            let mut p = strategies::phrase(s, names);
            let by_name: Vec<String> = words::items(Some(s), "segmentNames")
                .iter()
                .map(words::value)
                .collect();
            if !by_name.is_empty() {
                p.push_str(&format!(" in segment {}", by_name.join(" and ")));
            }
            p
        })
        .collect::<Vec<_>>()
        .join("; or ")
}

/// "1 %: Gradual rollout 1 % of users, hold 1 h".
pub fn milestone(m: &Value, names: &Names) -> String {
    let hold = m.get("holdMinutes").and_then(Value::as_i64).unwrap_or(0);
    let hold = match hold {
        0 => "no hold".to_string(),
        m => format!("hold {}", duration_minutes(m)),
    };
    format!(
        "{}: {}, {hold}",
        text(m, "name"),
        milestone_serves(m, names)
    )
}

fn number(v: Option<&Value>) -> String {
    match v.and_then(Value::as_f64) {
        Some(n) if n.fract() == 0.0 && n.abs() < 1e12 => format!("{}", n as i64),
        Some(n) => format!("{:.4}", n)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string(),
        None => "none".into(),
    }
}

/// What a guard watches and when it is breached.
pub fn guard(g: &Value) -> String {
    let metric = text(g, "metric");
    let what = match text(g, "aggregation") {
        "rate" => format!("rate of {metric} per second"),
        "ratio" => format!("ratio of {metric} to {}", text(g, "denominator")),
        "avg" => format!("average of {metric}"),
        q => format!("{q} of {metric}"),
    };
    let labels = g
        .get("labels")
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty())
        .map(|m| {
            let pairs: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}={}", words::value(v)))
                .collect();
            format!(" ({})", pairs.join(", "))
        })
        .unwrap_or_default();
    let threshold = number(g.get("threshold"));
    let limit = if g.get("relativeToBaseline").and_then(Value::as_bool) == Some(true) {
        format!("{threshold} × baseline")
    } else {
        threshold
    };
    let window = duration_seconds(g.get("windowSeconds").and_then(Value::as_i64).unwrap_or(0));
    let sustain = duration_seconds(g.get("sustainSeconds").and_then(Value::as_i64).unwrap_or(0));
    format!("{what}{labels} above {limit} over {window}, sustained {sustain}")
}

/// A release plan as a change request shows it: every milestone, every guard, what a breach does.
pub fn plan(after: &Value, names: &Names) -> Vec<Line> {
    let p = after.get("plan").unwrap_or(after);
    let mut lines = vec![Line::note(
        "Release plan",
        format!("Release plan from the template {}", text(p, "templateName")),
    )];
    for (i, m) in words::items(Some(p), "milestones").iter().enumerate() {
        let said = milestone(m, names);
        lines.push(Line::added(
            format!("Milestone {}", i + 1),
            said.clone(),
            format!("Milestone {}: {said}", i + 1),
        ));
    }
    for g in words::items(Some(p), "guards") {
        let said = guard(g);
        lines.push(Line::added("Guard", said.clone(), format!("Guard: {said}")));
    }
    let breach = match text(p, "onBreach") {
        "off" => "switch the flag off",
        _ => "go back to the previous milestone",
    };
    let advance = if p.get("autoAdvance").and_then(Value::as_bool) == Some(true) {
        "advances on its own once a milestone's hold has passed and every guard is healthy"
    } else {
        "advances only by hand"
    };
    lines.push(Line::note(
        "On breach",
        format!("On a guard breach: {breach}; the plan {advance}"),
    ));
    lines
}

/// A template created, edited or deleted: its name and milestones.
pub fn template(before: Option<&Value>, after: Option<&Value>, names: &Names) -> Vec<Line> {
    let said = |v: Option<&Value>| -> Vec<String> {
        words::items(v, "milestones")
            .iter()
            .map(|m| milestone(m, names))
            .collect()
    };
    let (b, a) = (said(before), said(after));
    let mut lines = Vec::new();
    let (bn, an) = (
        before.map(|v| text(v, "name")).unwrap_or(""),
        after.map(|v| text(v, "name")).unwrap_or(""),
    );
    if bn != an && !bn.is_empty() && !an.is_empty() {
        lines.push(Line::changed("Name", bn.to_string(), an.to_string()));
    }
    for i in 0..b.len().max(a.len()) {
        let subject = format!("Milestone {}", i + 1);
        match (b.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => lines.push(Line::changed(subject, x.clone(), y.clone())),
            (None, Some(y)) => {
                lines.push(Line::added(&subject, y.clone(), format!("{subject}: {y}")))
            }
            (Some(x), None) => lines.push(Line::removed(
                &subject,
                x.clone(),
                format!("{subject} removed: {x}"),
            )),
            (None, None) => {}
        }
    }
    lines
}

/// "milestone 2 of 5 (10 %)".
fn at_milestone(v: &Value) -> String {
    let n = v.get("milestone").and_then(Value::as_i64).unwrap_or(0) + 1;
    let of = v.get("of").and_then(Value::as_i64).unwrap_or(0);
    format!("milestone {n} of {of} ({})", text(v, "milestoneName"))
}

/// An entry of a plan's life in words.
pub fn event(action: &str, before: Option<&Value>, after: Option<&Value>) -> Vec<Line> {
    let empty = Value::Null;
    let a = after.unwrap_or(&empty);
    let b = before.unwrap_or(&empty);
    match action {
        "release-plan.started" => vec![Line::note(
            "Release plan",
            format!(
                "Release plan {} started at {}",
                text(a, "template"),
                at_milestone(a)
            ),
        )],
        "release-plan.advanced" => {
            vec![Line::changed("Milestone", at_milestone(b), at_milestone(a))]
        }
        "release-plan.completed" => vec![Line::note(
            "Release plan",
            format!("Release plan completed at {}", at_milestone(a)),
        )],
        "release-plan.paused" => vec![Line::note(
            "Release plan",
            format!("Release plan paused at {}", at_milestone(a)),
        )],
        "release-plan.resumed" => vec![Line::note(
            "Release plan",
            format!("Release plan resumed at {}", at_milestone(a)),
        )],
        "release-plan.cancelled" => vec![Line::note(
            "Release plan",
            "Release plan stopped; the flag keeps what it serves",
        )],
        "release-plan.rolled-back" => rolled_back(b, a),
        "release-plan.rollback-reviewed" => vec![Line::note(
            "Rollback review",
            format!(
                "Review of the automatic rollback completed{}",
                match text(a, "note") {
                    "" => String::new(),
                    n => format!(": {n}"),
                }
            ),
        )],
        _ => Vec::new(),
    }
}

fn rolled_back(before: &Value, after: &Value) -> Vec<Line> {
    let e = after.get("evidence").unwrap_or(&Value::Null);
    let to = if after.get("enabled").and_then(Value::as_bool) == Some(false) {
        "the flag is off".to_string()
    } else {
        format!("back at {}", at_milestone(after))
    };
    let baseline = match e.get("baseline") {
        Some(Value::Null) | None => String::new(),
        b => format!(", baseline {}", number(b)),
    };
    vec![
        Line::changed("Release", at_milestone(before), to.clone()),
        Line::note(
            "Evidence",
            format!(
                "Rolled back automatically: {} was {} (limit {}{baseline}) from {} to {}",
                e.get("guard").map(guard).unwrap_or_default(),
                number(e.get("value")),
                number(e.get("limit")),
                text(e, "windowStart"),
                text(e, "windowEnd"),
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_guard_reads_as_a_sentence() {
        let g = json!({"metric": "http_errors", "aggregation": "ratio",
            "denominator": "http_requests", "threshold": 1.5, "relativeToBaseline": true,
            "windowSeconds": 300, "sustainSeconds": 120});
        assert_eq!(
            guard(&g),
            "ratio of http_errors to http_requests above 1.5 × baseline over 5 min, sustained 2 min"
        );
        let p = json!({"metric": "latency", "aggregation": "p95", "threshold": 0.25,
            "labels": {"route": "/pay"}, "windowSeconds": 60, "sustainSeconds": 30});
        assert_eq!(
            guard(&p),
            "p95 of latency (route=/pay) above 0.25 over 1 min, sustained 30 s"
        );
    }

    #[test]
    fn a_plan_lists_its_milestones_and_guards() {
        let after = json!({"plan": {"templateName": "Canary", "onBreach": "off",
            "autoAdvance": true, "milestones": [
                {"name": "5 %", "holdMinutes": 60, "strategies": [{"name": "flexibleRollout",
                 "parameters": {"rollout": "5"}}]},
                {"name": "Everyone", "holdMinutes": 0, "strategies": []}],
            "guards": []}});
        let said: Vec<String> = plan(&after, &Names::default())
            .into_iter()
            .map(|l| l.sentence)
            .collect();
        assert_eq!(
            said[1],
            "Milestone 1: 5 %: Gradual rollout 5 % of users, hold 1 h"
        );
        assert_eq!(said[2], "Milestone 2: Everyone: everyone, no hold");
        assert!(said[3].starts_with("On a guard breach: switch the flag off"));
    }
}
