//! An explanation as the page shows it: sentences and marks, in the words of the UI.

use crate::evaluation::{ConstraintCheck, FlagExplanation, RolloutCheck, StrategyCheck};
use std::collections::HashMap;

pub struct FlagView {
    pub key: String,
    pub enabled: bool,
    /// The variant name when the flag hands one out.
    pub variant: Option<String>,
    pub reason: String,
    pub dependencies: Vec<Line>,
    pub strategies: Vec<StrategyView>,
    pub variant_line: Option<String>,
}

/// One checked condition: what it asks, what it saw, and whether it held.
pub struct Line {
    pub text: String,
    pub seen: String,
    pub ok: bool,
}

pub struct StrategyView {
    pub number: usize,
    pub name: String,
    pub matched: bool,
    pub decided: bool,
    pub rule: Option<Line>,
    pub constraints: Vec<Line>,
    pub segments: Vec<SegmentView>,
}

pub struct SegmentView {
    pub name: String,
    pub ok: bool,
    pub constraints: Vec<Line>,
}

impl FlagView {
    pub fn of(e: &FlagExplanation, segment_names: &HashMap<i32, String>) -> FlagView {
        let mut view = FlagView::parts(e, segment_names);
        if e.decided_by == "no-match" {
            view.reason = no_match(&view.strategies);
        }
        view
    }

    fn parts(e: &FlagExplanation, segment_names: &HashMap<i32, String>) -> FlagView {
        FlagView {
            key: e.flag.clone(),
            enabled: e.enabled,
            variant: e.variant.enabled.then(|| e.variant.name.clone()),
            reason: capitalised(&e.reason),
            dependencies: e
                .dependencies
                .iter()
                .map(|d| Line {
                    text: format!(
                        "needs {} {}{}",
                        d.feature,
                        if d.expected_enabled { "on" } else { "off" },
                        if d.expected_variants.is_empty() {
                            String::new()
                        } else {
                            format!(" with {}", d.expected_variants.join(" or "))
                        }
                    ),
                    seen: match (d.parent_enabled, &d.parent_variant) {
                        (None, _) => "not served here".into(),
                        (Some(true), Some(v)) => format!("on, {v}"),
                        (Some(true), None) => "on".into(),
                        (Some(false), _) => "off".into(),
                    },
                    ok: d.satisfied,
                })
                .collect(),
            strategies: e
                .strategies
                .iter()
                .map(|s| strategy(s, e.strategy == Some(s.index), segment_names))
                .collect(),
            variant_line: e.variant_bucket.as_ref().map(|v| {
                let source = if v.source == "strategy" {
                    "the strategy's variants"
                } else {
                    "the flag's variants"
                };
                let how = format!("sticky on {}, group {}", v.stickiness, v.group_id);
                match (&v.identity, v.bucket, &v.hashed_variant) {
                    (Some(id), Some(b), Some(h)) if *h == e.variant.name => format!(
                        "from {source} ({how}): {id} falls in bucket {b} of {}, which is {h}",
                        v.total_weight
                    ),
                    (Some(id), Some(b), _) => format!(
                        "from {source} ({how}): {id} falls in bucket {b} of {}, but an override \
                         chose {}",
                        v.total_weight, e.variant.name
                    ),
                    _ => format!(
                        "from {source}: no {} in the context, so the variant is drawn at random",
                        v.stickiness
                    ),
                }
            }),
        }
    }
}

/// "No strategy matched: 1 (flexibleRollout): country in DE, FR saw US; ..." with the first
/// part of each strategy that failed.
fn no_match(strategies: &[StrategyView]) -> String {
    let each: Vec<String> = strategies
        .iter()
        .map(|s| {
            let failed = (s.constraints.iter().chain(&s.rule))
                .find(|l| !l.ok)
                .map(|l| format!("{} saw {}", l.text, l.seen));
            let segment = s.segments.iter().find(|g| !g.ok);
            let cause = failed
                .or_else(|| segment.map(|g| format!("segment {} did not match", g.name)))
                .unwrap_or_else(|| "it does not apply".into());
            format!("{} ({}): {cause}", s.number, s.name)
        })
        .collect();
    format!("No strategy matched. {}", each.join("; "))
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn strategy(
    s: &StrategyCheck,
    decided: bool,
    segment_names: &HashMap<i32, String>,
) -> StrategyView {
    StrategyView {
        number: s.index + 1,
        name: match &s.title {
            Some(t) => format!("{} ({t})", s.name),
            None => s.name.clone(),
        },
        matched: s.matched,
        decided,
        rule: s.rollout.as_ref().map(|r| rollout(r, s.rule_matched)),
        constraints: s.constraints.iter().map(constraint).collect(),
        segments: s
            .segments
            .iter()
            .map(|g| SegmentView {
                name: segment_names
                    .get(&g.id)
                    .cloned()
                    .unwrap_or_else(|| format!("segment {}", g.id)),
                ok: g.matched,
                constraints: g.constraints.iter().map(constraint).collect(),
            })
            .collect(),
    }
}

fn rollout(r: &RolloutCheck, ok: bool) -> Line {
    let pct = r
        .percentage
        .map_or("no valid percentage".into(), |p| format!("{p} %"));
    Line {
        text: format!(
            "rollout {pct}, sticky on {} (group {})",
            r.stickiness, r.group_id
        ),
        seen: match (&r.identity, r.bucket) {
            (Some(id), Some(b)) => format!("{id}: bucket {b} of 100"),
            _ if r.stickiness == "random" => "a random draw".into(),
            _ => format!("no {}", r.stickiness),
        },
        ok,
    }
}

fn constraint(c: &ConstraintCheck) -> Line {
    let not = if c.inverted { "NOT " } else { "" };
    let case = if c.case_insensitive {
        " (any case)"
    } else {
        ""
    };
    Line {
        text: format!(
            "{} {not}{} {}{case}",
            c.context_name,
            operator_words(&c.operator),
            c.values.join(", ")
        ),
        seen: match &c.seen {
            Some(v) => v.clone(),
            None if c.context_name == "currentTime" => "now".into(),
            None => "nothing".into(),
        },
        ok: c.matched,
    }
}

/// Operators in the words of the UI ("country in DE, FR").
fn operator_words(op: &str) -> &str {
    match op {
        "IN" => "in",
        "NOT_IN" => "not in",
        "STR_CONTAINS" => "contains",
        "STR_STARTS_WITH" => "starts with",
        "STR_ENDS_WITH" => "ends with",
        "NUM_EQ" => "=",
        "NUM_GT" => ">",
        "NUM_GTE" => "≥",
        "NUM_LT" => "<",
        "NUM_LTE" => "≤",
        "DATE_AFTER" => "after",
        "DATE_BEFORE" => "before",
        "SEMVER_EQ" => "is version",
        "SEMVER_GT" => "is a version above",
        "SEMVER_LT" => "is a version below",
        "REGEX" => "matches",
        "IN_CIDR" => "is in the network",
        other => other,
    }
}
