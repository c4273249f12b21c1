//! Who gets a flag in one environment, in a word or two: the catalog's cell says "On · 10 %"
//! rather than a bare "On" that hides a rollout (issue 9). Pure: the stored strategies and
//! variants (Unleash's shape) in, a short label and a longer sentence out.
//!
//! The words are the describer's (`audit::describe`): "10 %" as a rollout reads everywhere,
//! segment names as the strategy phrase gives them; "everyone" is what
//! `lifecycle::stale::serves_everyone` decides.

use crate::audit::describe::{strategy_phrase, words, Names};
use serde_json::Value;

/// How far a switched-on flag reaches in one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Switched off: nobody.
    Off,
    /// Every user gets the same answer.
    Everyone,
    /// One rollout without conditions: this share of users ("10 %").
    Share(String),
    /// One strategy that includes exactly the people of these segments.
    Segments(Vec<String>),
    /// Conditions (constraints, several strategies, user lists…): this many strategies.
    Rules(usize),
    /// Every strategy is paused: switched on, yet no strategy answers.
    Paused,
}

/// What an environment's cell says: `reach`, and whether users are split between variants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    pub reach: Reach,
    pub variants: bool,
    /// The strategies as sentences, for a tooltip ("Gradual rollout 10 % of users").
    pub detail: String,
}

impl Exposure {
    /// The cell's words after On: "10 %", "2 rules", "segment internal", "variants", "everyone".
    pub fn label(&self) -> String {
        let reach = match &self.reach {
            Reach::Off => return "off".into(),
            Reach::Everyone if self.variants => return "variants".into(),
            Reach::Everyone => "everyone".to_string(),
            Reach::Share(p) => p.clone(),
            Reach::Segments(s) if s.len() == 1 => format!("segment {}", s[0]),
            Reach::Segments(s) => format!("segments {}", s.join(", ")),
            Reach::Rules(n) => words::count(*n, "rule", "rules"),
            Reach::Paused => "paused".to_string(),
        };
        if self.variants {
            format!("{reach}, variants")
        } else {
            reach
        }
    }

    /// True when some users, not all, get the flag: the label deserves attention.
    pub fn partial(&self) -> bool {
        !matches!(self.reach, Reach::Off | Reach::Everyone)
    }
}

/// The exposure of a flag in one environment from its stored switch, strategies and variants.
pub fn summarise(
    enabled: bool,
    strategies: &[Value],
    variants: &[Value],
    names: &Names,
) -> Exposure {
    let active: Vec<&Value> = strategies
        .iter()
        .filter(|s| s.get("disabled").and_then(Value::as_bool) != Some(true))
        .collect();
    let detail = active
        .iter()
        .map(|s| strategy_phrase(s, names))
        .collect::<Vec<_>>()
        .join("; or ");
    let split = weighted(variants) > 1
        || active
            .iter()
            .any(|s| weighted(words::items(Some(s), "variants")) > 1);
    let reach = if !enabled {
        Reach::Off
    } else if active.is_empty() && !strategies.is_empty() {
        Reach::Paused
    } else if active.iter().any(|s| unconditional(s) && everyone(s)) || active.is_empty() {
        Reach::Everyone
    } else if let [one] = active.as_slice() {
        single(one, names)
    } else {
        Reach::Rules(active.len())
    };
    Exposure {
        variants: split && reach != Reach::Off,
        detail: if enabled { detail } else { String::new() },
        reach,
    }
}

/// One strategy's reach: a bare rollout is its share, segments alone name them, anything with
/// conditions is one rule.
fn single(s: &Value, names: &Names) -> Reach {
    let segments = words::items(Some(s), "segments");
    let constrained = !words::items(Some(s), "constraints").is_empty();
    match (share(s), segments.is_empty(), constrained) {
        (Some(p), true, false) => Reach::Share(p),
        (None, false, false) if everyone(s) => {
            Reach::Segments(segments.iter().map(|id| names.segment(id)).collect())
        }
        _ => Reach::Rules(1),
    }
}

/// The share of a rollout strategy ("10 %"); None for a strategy that is not a rollout or that
/// includes everyone.
fn share(s: &Value) -> Option<String> {
    let key = match words::text(s, "name") {
        "flexibleRollout" => "rollout",
        "gradualRolloutUserId" | "gradualRolloutSessionId" | "gradualRolloutRandom" => "percentage",
        _ => return None,
    };
    let p = s
        .get("parameters")
        .and_then(|p| p.get(key))
        .map(words::value)?;
    (p.trim() != "100").then(|| words::percent(&p))
}

/// Whether the strategy, its conditions aside, includes every user.
fn everyone(s: &Value) -> bool {
    match words::text(s, "name") {
        "default" => true,
        "flexibleRollout"
        | "gradualRolloutUserId"
        | "gradualRolloutSessionId"
        | "gradualRolloutRandom" => share(s).is_none(),
        _ => false,
    }
}

fn unconditional(s: &Value) -> bool {
    words::items(Some(s), "constraints").is_empty() && words::items(Some(s), "segments").is_empty()
}

fn weighted(vs: &[Value]) -> usize {
    vs.iter()
        .filter(|v| v.get("weight").and_then(Value::as_i64).unwrap_or(1) > 0)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names() -> Names {
        Names::with_segments([(1, "internal".to_string()), (2, "beta".to_string())])
    }

    fn label(enabled: bool, strategies: Value, variants: Value) -> String {
        let s = strategies.as_array().unwrap().clone();
        let v = variants.as_array().unwrap().clone();
        summarise(enabled, &s, &v, &names()).label()
    }

    fn rollout(p: &str) -> Value {
        json!({"name": "flexibleRollout", "parameters": {"rollout": p, "stickiness": "default", "groupId": "g"}, "constraints": [], "segments": []})
    }

    #[test]
    fn off_is_off_whatever_the_strategies() {
        assert_eq!(label(false, json!([rollout("10")]), json!([])), "off");
        let e = summarise(false, &[rollout("10")], &[], &names());
        assert_eq!(e.reach, Reach::Off);
        assert!(!e.partial());
    }

    #[test]
    fn no_strategy_or_a_standard_one_reaches_everyone() {
        assert_eq!(label(true, json!([]), json!([])), "everyone");
        assert_eq!(
            label(true, json!([{"name": "default"}]), json!([])),
            "everyone"
        );
        assert_eq!(label(true, json!([rollout("100")]), json!([])), "everyone");
    }

    #[test]
    fn a_bare_rollout_reads_as_its_share() {
        assert_eq!(label(true, json!([rollout("10")]), json!([])), "10 %");
        assert_eq!(label(true, json!([rollout("0")]), json!([])), "0 %");
        let legacy = json!({"name": "gradualRolloutRandom", "parameters": {"percentage": "25"}});
        assert_eq!(label(true, json!([legacy]), json!([])), "25 %");
    }

    #[test]
    fn segments_alone_are_named() {
        let s = json!({"name": "default", "segments": [1], "constraints": []});
        assert_eq!(label(true, json!([s]), json!([])), "segment internal");
        let two = json!({"name": "flexibleRollout", "parameters": {"rollout": "100"}, "segments": [1, 2]});
        assert_eq!(
            label(true, json!([two]), json!([])),
            "segments internal, beta"
        );
        let gone = json!({"name": "default", "segments": [9]});
        assert_eq!(label(true, json!([gone]), json!([])), "segment #9");
    }

    #[test]
    fn conditions_count_as_rules() {
        let constrained = json!({"name": "default", "constraints": [{"contextName": "country", "operator": "IN", "values": ["DE"]}]});
        assert_eq!(
            label(true, json!([constrained.clone()]), json!([])),
            "1 rule"
        );
        assert_eq!(
            label(true, json!([constrained, rollout("10")]), json!([])),
            "2 rules"
        );
        let users = json!({"name": "userWithId", "parameters": {"userIds": "a,b"}});
        assert_eq!(label(true, json!([users]), json!([])), "1 rule");
        let partial_segment =
            json!({"name": "flexibleRollout", "parameters": {"rollout": "20"}, "segments": [1]});
        assert_eq!(label(true, json!([partial_segment]), json!([])), "1 rule");
    }

    #[test]
    fn any_strategy_for_everyone_wins() {
        let constrained = json!({"name": "default", "constraints": [{"contextName": "country", "operator": "IN", "values": ["DE"]}]});
        assert_eq!(
            label(true, json!([constrained, {"name": "default"}]), json!([])),
            "everyone"
        );
    }

    #[test]
    fn split_variants_are_said() {
        let two = json!([{"name": "a", "weight": 500}, {"name": "b", "weight": 500}]);
        assert_eq!(label(true, json!([]), two.clone()), "variants");
        assert_eq!(
            label(true, json!([rollout("10")]), two.clone()),
            "10 %, variants"
        );
        let one = json!([{"name": "a", "weight": 1000}, {"name": "b", "weight": 0}]);
        assert_eq!(label(true, json!([]), one), "everyone");
        let in_strategy = json!({"name": "default", "variants": [{"name": "a", "weight": 500}, {"name": "b", "weight": 500}]});
        assert_eq!(label(true, json!([in_strategy]), json!([])), "variants");
        assert_eq!(label(false, json!([]), two), "off");
    }

    #[test]
    fn paused_strategies_do_not_count() {
        let paused = json!({"name": "default", "disabled": true});
        assert_eq!(label(true, json!([paused.clone()]), json!([])), "paused");
        assert_eq!(
            label(true, json!([paused, rollout("30")]), json!([])),
            "30 %"
        );
    }

    #[test]
    fn the_detail_reads_the_strategies_as_sentences() {
        let e = summarise(true, &[rollout("10")], &[], &names());
        assert_eq!(e.detail, "Gradual rollout 10 % of users");
        assert!(e.partial());
    }
}
