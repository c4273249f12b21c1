//! The evaluation explainer: for one context, every flag's answer as the feed gives it and why.
//!
//! The answer (on or off, and the variant) is the engine's own verdict, exactly what the feed
//! serves. The rationale never re-implements a rule: each strategy, its rollout, each constraint,
//! each segment and each dependency is evaluated as its own toggle through the engine
//! ([`pieces`]), and buckets come from the engine's `normalized_hash`.

mod pieces;
mod rollout;

use std::collections::HashMap;

use serde::Serialize;
use unleash_types::client_features::{ClientFeature, Constraint, Strategy};
use unleash_yggdrasil::Context;

use super::CompiledEnvironment;
use pieces::{context_value, Bench};
pub use rollout::{RolloutCheck, VariantCheck};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlagExplanation {
    pub flag: String,
    /// The feed's answer.
    pub enabled: bool,
    pub variant: VariantAnswer,
    /// What decided, in one sentence.
    pub reason: String,
    /// `disabled`, `broken`, `dependency`, `no-strategies`, `strategy`, `no-match` or
    /// `unexplained` (a random draw: the engine and the explainer drew apart).
    pub decided_by: &'static str,
    /// The deciding strategy (0-based), when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<usize>,
    pub dependencies: Vec<DependencyCheck>,
    pub strategies: Vec<StrategyCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant_bucket: Option<VariantCheck>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantAnswer {
    pub name: String,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DependencyCheck {
    pub feature: String,
    /// The parent's state the dependency asks for.
    pub expected_enabled: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expected_variants: Vec<String>,
    /// What the parent is for this context (None when the environment has no such flag).
    pub parent_enabled: Option<bool>,
    pub parent_variant: Option<String>,
    pub satisfied: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyCheck {
    pub index: usize,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub matched: bool,
    /// The strategy's own rule (rollout, ids, addresses) without its constraints and segments.
    pub rule_matched: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutCheck>,
    pub constraints: Vec<ConstraintCheck>,
    pub segments: Vec<SegmentCheck>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConstraintCheck {
    pub context_name: String,
    pub operator: String,
    pub inverted: bool,
    pub case_insensitive: bool,
    pub values: Vec<String>,
    /// The context's value the constraint read; None when the context has none.
    pub seen: Option<String>,
    pub matched: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentCheck {
    pub id: i32,
    pub matched: bool,
    pub constraints: Vec<ConstraintCheck>,
}

impl CompiledEnvironment {
    /// Every flag (or those in `only`, in name order) explained for `ctx`.
    pub fn explain(&self, ctx: &Context, only: Option<&[String]>) -> Vec<FlagExplanation> {
        let state = self.client_features();
        let features: HashMap<&str, &ClientFeature> = state
            .features
            .iter()
            .map(|f| (f.name.as_str(), f))
            .collect();
        self.flags
            .iter()
            .filter(|(name, _)| only.is_none_or(|o| o.iter().any(|k| k == *name)))
            .filter_map(|(name, facts)| {
                let flag = features.get(name.as_str())?;
                let bench = Bench {
                    flag,
                    segments: &state.segments,
                    features: &features,
                    ctx,
                };
                Some(self.explain_flag(&bench, facts))
            })
            .collect()
    }

    fn explain_flag(&self, bench: &Bench, facts: &super::facts::FlagFacts) -> FlagExplanation {
        let flag = bench.flag;
        let verdict = self.verdict(&flag.name, facts, bench.ctx);
        let dependencies = self.dependencies(bench);
        let strategies: Vec<StrategyCheck> = flag
            .strategies
            .iter()
            .flatten()
            .enumerate()
            .map(|(index, s)| strategy_check(bench, index, s))
            .collect();
        let first_match = strategies.iter().position(|s| s.matched);
        let unmet = dependencies.iter().find(|d| !d.satisfied);
        let (decided_by, reason) = if !facts.enabled_in_env {
            (
                "disabled",
                "the flag is off in this environment".to_string(),
            )
        } else if facts.broken {
            (
                "broken",
                "the engine could not compile this flag's targeting, so it is off for everyone"
                    .to_string(),
            )
        } else if let Some(d) = unmet {
            ("dependency", dependency_reason(d))
        } else if strategies.is_empty() {
            (
                "no-strategies",
                "on for everyone: the flag has no strategies".to_string(),
            )
        } else if let (Some(i), true) = (first_match, verdict.enabled) {
            (
                "strategy",
                format!("strategy {} ({}) matched", i + 1, strategies[i].name),
            )
        } else if first_match.is_none() && !verdict.enabled {
            ("no-match", no_match_reason(&strategies))
        } else {
            (
                "unexplained",
                "a random draw decided (random stickiness or no id to hash): the answer may \
                 differ on each evaluation"
                    .to_string(),
            )
        };
        let variant_bucket = verdict
            .enabled
            .then(|| rollout::variant_check(bench, first_match))
            .flatten();
        FlagExplanation {
            flag: flag.name.clone(),
            enabled: verdict.enabled,
            variant: VariantAnswer {
                name: verdict.variant.name.clone(),
                enabled: verdict.variant.enabled,
                payload: verdict
                    .variant
                    .payload
                    .as_ref()
                    .and_then(|p| serde_json::to_value(p).ok()),
            },
            reason,
            decided_by,
            strategy: (decided_by == "strategy").then_some(first_match).flatten(),
            dependencies,
            strategies,
            variant_bucket,
        }
    }

    fn dependencies(&self, bench: &Bench) -> Vec<DependencyCheck> {
        let deps = bench.flag.dependencies.iter().flatten();
        deps.map(|d| {
            let parent = self.flags.get(&d.feature).map(|facts| {
                let v = self.verdict(&d.feature, facts, bench.ctx);
                (v.enabled, v.variant.enabled.then_some(v.variant.name))
            });
            DependencyCheck {
                feature: d.feature.clone(),
                expected_enabled: d.enabled.unwrap_or(true),
                expected_variants: d.variants.clone().unwrap_or_default(),
                parent_enabled: parent.as_ref().map(|p| p.0),
                parent_variant: parent.and_then(|p| p.1),
                satisfied: bench.dependency(d),
            }
        })
        .collect()
    }
}

fn dependency_reason(d: &DependencyCheck) -> String {
    let wanted = if !d.expected_enabled {
        "off".to_string()
    } else if d.expected_variants.is_empty() {
        "on".to_string()
    } else {
        format!("on with variant {}", d.expected_variants.join(" or "))
    };
    let actual = match (d.parent_enabled, &d.parent_variant) {
        (None, _) => "is not served here".to_string(),
        (Some(true), Some(v)) => format!("is on with variant {v}"),
        (Some(true), None) => "is on".to_string(),
        (Some(false), _) => "is off".to_string(),
    };
    format!("depends on {} being {wanted}, which {actual}", d.feature)
}

fn no_match_reason(strategies: &[StrategyCheck]) -> String {
    let why: Vec<String> = strategies
        .iter()
        .map(|s| {
            let failed = s.constraints.iter().find(|c| !c.matched);
            let segment = s.segments.iter().find(|g| !g.matched);
            let cause = if let Some(c) = failed {
                let seen = c.seen.as_deref().unwrap_or("nothing");
                format!("{} {} saw {seen}", c.context_name, c.operator)
            } else if let Some(g) = segment {
                format!("segment {} did not match", g.id)
            } else if let Some(r) = s.rollout.as_ref().filter(|_| !s.rule_matched) {
                r.describe()
            } else {
                "its rule did not match".to_string()
            };
            format!("{} ({}): {cause}", s.index + 1, s.name)
        })
        .collect();
    format!("no strategy matched: {}", why.join("; "))
}

fn strategy_check(bench: &Bench, index: usize, s: &Strategy) -> StrategyCheck {
    let constraints = s
        .constraints
        .iter()
        .flatten()
        .map(|c| constraint_check(bench, c))
        .collect();
    let segments = s
        .segments
        .iter()
        .flatten()
        .map(|id| {
            let own = bench.segments.iter().flatten().find(|g| g.id == *id);
            SegmentCheck {
                id: *id,
                matched: bench.segment(*id),
                constraints: own
                    .map(|g| {
                        g.constraints
                            .iter()
                            .map(|c| constraint_check(bench, c))
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    StrategyCheck {
        index,
        name: s.name.clone(),
        title: s
            .parameters
            .as_ref()
            .and_then(|p| p.get("title"))
            .filter(|t| !t.is_empty())
            .cloned(),
        matched: bench.strategy(s),
        rule_matched: bench.rule(s),
        rollout: rollout::rollout_check(bench, s),
        constraints,
        segments,
    }
}

fn constraint_check(bench: &Bench, c: &Constraint) -> ConstraintCheck {
    let operator = serde_json::to_value(&c.operator)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{:?}", c.operator));
    let values = match (&c.values, &c.value) {
        (Some(values), _) if !values.is_empty() => values.clone(),
        (_, Some(value)) => vec![value.clone()],
        _ => Vec::new(),
    };
    ConstraintCheck {
        context_name: c.context_name.clone(),
        operator,
        inverted: c.inverted,
        case_insensitive: c.case_insensitive,
        values,
        seen: context_value(bench.ctx, &c.context_name).map(str::to_string),
        matched: bench.constraint(c),
    }
}
