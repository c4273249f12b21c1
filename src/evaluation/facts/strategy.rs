//! Per-strategy facts: the strategy's own compiled rule and how it relates
//! to the targeting key.

use std::collections::HashMap;

use unleash_types::client_features::{Constraint, Segment, Strategy};
use unleash_yggdrasil::strategy_parsing::{compile_rule, RuleFragment};
use unleash_yggdrasil::strategy_upgrade::upgrade;

/// The identity a percentage or variant hash reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stickiness {
    /// userId, then sessionId, then random.
    Default,
    UserId,
    Random,
    /// sessionId or a custom field: missing means off (rollouts) or random
    /// (variants), never a targeting-key question.
    Other,
}

impl Stickiness {
    pub(super) fn parse(value: Option<&str>) -> Self {
        match value {
            None | Some("default") => Self::Default,
            Some("userId") => Self::UserId,
            Some("random") => Self::Random,
            Some(_) => Self::Other,
        }
    }

    /// With no userId, does the hash fall back to something arbitrary?
    fn lacks_key(self, has_session: bool) -> bool {
        match self {
            Self::Default => !has_session,
            Self::UserId => true,
            Self::Random | Self::Other => false,
        }
    }
}

/// One candidate list of variants (a strategy's or the flag's).
#[derive(Debug, Clone, Copy)]
pub(super) struct VariantList {
    pub(super) present: bool,
    /// At least two variants can be chosen: the pick is a weighted hash.
    pub(super) split: bool,
    stickiness: Stickiness,
    user_id_overrides: bool,
}

impl VariantList {
    pub(super) fn new(
        weights: impl Iterator<Item = i32>,
        stickiness: Stickiness,
        user_overrides: bool,
    ) -> Self {
        let weights: Vec<i32> = weights.collect();
        Self {
            present: !weights.is_empty(),
            split: weights.iter().filter(|weight| **weight > 0).count() >= 2,
            stickiness,
            user_id_overrides: user_overrides,
        }
    }

    pub(super) fn lacks_key(&self, has_session: bool) -> bool {
        (self.split && self.stickiness.lacks_key(has_session)) || self.user_id_overrides
    }
}

pub(super) struct StrategyFacts {
    /// None when yggdrasil cannot compile it; the engine then has the whole
    /// flag off, so this strategy never decides anything.
    pub(super) rule: Option<RuleFragment>,
    /// Reads userId directly: userWithId, a userId rollout or constraint.
    reads_user_id: bool,
    /// A partial rollout with default stickiness: userId, else sessionId,
    /// else random.
    default_sticky_rollout: bool,
    /// On for everyone: no constraints, segments, ids or partial rollout.
    pub(super) is_static: bool,
    pub(super) variants: VariantList,
}

impl StrategyFacts {
    pub(super) fn build(strategy: &Strategy, segments: &HashMap<i32, Segment>) -> Self {
        let constraints = all_constraints(strategy, segments);
        let targets_user = constraints.iter().any(|c| c.context_name == "userId");
        let stickiness = Stickiness::parse(param(strategy, "stickiness"));
        Self {
            rule: compile_alone(strategy, segments),
            reads_user_id: targets_user || rollout_reads_user_id(strategy, stickiness),
            default_sticky_rollout: stickiness == Stickiness::Default
                && strategy.name == "flexibleRollout"
                && percent(strategy, "rollout").is_some_and(|p| p > 0 && p < 100),
            is_static: constraints.is_empty() && rule_is_unconditional(strategy, stickiness),
            variants: strategy_variants(strategy, stickiness),
        }
    }

    pub(super) fn lacks_key(&self, has_session: bool) -> bool {
        self.reads_user_id || (self.default_sticky_rollout && !has_session)
    }
}

fn param<'a>(strategy: &'a Strategy, name: &str) -> Option<&'a str> {
    strategy.parameters.as_ref()?.get(name).map(String::as_str)
}

/// Parsed the way yggdrasil parses it: anything but a plain integer is "no
/// rollout", which the engine evaluates as off.
fn percent(strategy: &Strategy, name: &str) -> Option<usize> {
    param(strategy, name)?.parse().ok()
}

fn all_constraints(strategy: &Strategy, segments: &HashMap<i32, Segment>) -> Vec<Constraint> {
    let own = strategy.constraints.iter().flatten().cloned();
    let shared = strategy
        .segments
        .iter()
        .flatten()
        .filter_map(|id| segments.get(id))
        .flat_map(|segment| segment.constraints.iter().cloned());
    own.chain(shared).collect()
}

fn rollout_reads_user_id(strategy: &Strategy, stickiness: Stickiness) -> bool {
    match strategy.name.as_str() {
        "userWithId" => true,
        "gradualRolloutUserId" => percent(strategy, "percentage").is_some_and(|p| p > 0),
        "flexibleRollout" => {
            stickiness == Stickiness::UserId && percent(strategy, "rollout").is_some_and(|p| p > 0)
        }
        _ => false,
    }
}

fn rule_is_unconditional(strategy: &Strategy, stickiness: Stickiness) -> bool {
    let segmentless = strategy.segments.as_ref().is_none_or(Vec::is_empty);
    let full = |name| percent(strategy, name) == Some(100);
    let unconditional = match strategy.name.as_str() {
        "default" => true,
        // A full rollout on a custom field is still off when the field is
        // missing; only default and random stickiness always find a seed.
        "flexibleRollout" => {
            full("rollout") && matches!(stickiness, Stickiness::Default | Stickiness::Random)
        }
        "gradualRolloutRandom" => full("percentage"),
        _ => false,
    };
    segmentless && unconditional
}

fn strategy_variants(strategy: &Strategy, stickiness: Stickiness) -> VariantList {
    let weights = strategy.variants.iter().flatten().map(|v| v.weight);
    VariantList::new(weights, stickiness, false)
}

fn compile_alone(strategy: &Strategy, segments: &HashMap<i32, Segment>) -> Option<RuleFragment> {
    let text = upgrade(std::slice::from_ref(strategy), segments).ok()?;
    compile_rule(&text).ok()
}
