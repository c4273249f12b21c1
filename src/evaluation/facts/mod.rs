//! What the engine does not tell us about an evaluation: which strategy
//! decided, whether a variant came from a split or an override, and whether
//! the missing targeting key decided the answer. OFREP needs all three for
//! `reason` and `TARGETING_KEY_MISSING` (spec 1.5).
//!
//! Each strategy is compiled on its own with yggdrasil's own
//! `upgrade` + `compile_rule`, the same code path the engine uses for its
//! variant rules, so "first strategy that is on" means exactly what the
//! engine means by it. The engine stays the authority on `enabled` and on
//! the variant; these facts only explain them.

mod strategy;

use std::collections::HashMap;
use std::sync::Arc;

use unleash_types::client_features::{ClientFeature, FeatureDependency, Override, Segment};
use unleash_yggdrasil::state::EnrichedContext;
use unleash_yggdrasil::Context;

use super::ValueType;
use strategy::{Stickiness, StrategyFacts, VariantList};

/// Which part of the configuration turned a flag on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decider {
    /// The flag has no strategies: on for everyone.
    NoStrategies,
    /// The strategy at this index is the first one that is on.
    Strategy(usize),
    /// The flag is off for this context.
    Nothing,
    /// The engine says on but none of our rules is. Happens when a rule
    /// draws a random number (random stickiness, `gradualRolloutRandom`, a
    /// default-sticky rollout with no ids): the engine and we draw apart.
    Unexplained,
}

#[derive(Clone)]
pub(super) struct FlagFacts {
    pub value_type: ValueType,
    pub enabled_in_env: bool,
    pub impression_data: bool,
    pub dependencies: Vec<FeatureDependency>,
    /// yggdrasil could not compile the flag, so it is off for everyone.
    pub broken: bool,
    /// The engine shard that holds the flag.
    pub shard: usize,
    /// Shared with the previous build of the environment while the flag is unchanged:
    /// compiling the rules is most of the cost of a rebuild.
    strategies: Arc<[StrategyFacts]>,
    flag_variants: VariantList,
    overrides: Vec<(String, Vec<Override>)>,
}

impl FlagFacts {
    /// Facts for `feature`; `unchanged` is this flag's facts from the previous build when
    /// neither the flag nor any segment changed since, whose compiled rules are then reused.
    pub(super) fn build(
        feature: &ClientFeature,
        segments: &HashMap<i32, Segment>,
        value_type: ValueType,
        unchanged: Option<&FlagFacts>,
    ) -> Self {
        let strategies = match unchanged {
            Some(previous) => previous.strategies.clone(),
            // Asked only of flags that are on: an off flag's answer needs no explaining.
            None if !feature.enabled => Arc::from([]),
            None => feature
                .strategies
                .iter()
                .flatten()
                .map(|s| StrategyFacts::build(s, segments))
                .collect(),
        };
        Self {
            value_type,
            enabled_in_env: feature.enabled,
            impression_data: feature.impression_data.unwrap_or_default(),
            dependencies: feature.dependencies.clone().unwrap_or_default(),
            broken: false,
            shard: 0,
            strategies,
            flag_variants: flag_variants(feature),
            overrides: flag_overrides(feature),
        }
    }

    /// The first strategy that is on for `ctx`, given that the engine says the
    /// flag is `enabled`.
    pub(super) fn decider(&self, ctx: &EnrichedContext, enabled: bool) -> Decider {
        if !enabled {
            return Decider::Nothing;
        }
        if self.strategies.is_empty() {
            return Decider::NoStrategies;
        }
        self.strategies
            .iter()
            .position(|s| s.rule.as_ref().is_some_and(|rule| rule(ctx)))
            .map_or(Decider::Unexplained, Decider::Strategy)
    }

    /// "On for everyone" when that strategy decided.
    pub(super) fn is_static(&self, decider: Decider) -> bool {
        match decider {
            Decider::NoStrategies => self.dependencies.is_empty(),
            Decider::Strategy(index) => {
                self.dependencies.is_empty() && self.strategies[index].is_static
            }
            Decider::Nothing | Decider::Unexplained => false,
        }
    }

    /// The strategy's own variants, when the deciding strategy has some: the
    /// engine then ignores the flag-level list.
    fn strategy_candidates(&self, decider: Decider) -> Option<&VariantList> {
        let Decider::Strategy(index) = decider else {
            return None;
        };
        let variants = &self.strategies[index].variants;
        variants.present.then_some(variants)
    }

    /// The variant list the engine picked from when `decider` turned it on.
    fn candidates(&self, decider: Decider) -> &VariantList {
        self.strategy_candidates(decider)
            .unwrap_or(&self.flag_variants)
    }

    /// True when the engine picked the variant by a weighted hash.
    pub(super) fn is_split(&self, decider: Decider) -> bool {
        self.candidates(decider).split
    }

    /// True when this flag-level variant won through an override. Mirrors
    /// yggdrasil's override lookup: the first variant with a matching
    /// override wins. Strategy variants carry no overrides.
    pub(super) fn is_override(&self, decider: Decider, variant: &str, ctx: &Context) -> bool {
        if self.strategy_candidates(decider).is_some() {
            return false;
        }
        let winner = self.overrides.iter().find(|(_, overrides)| {
            overrides.iter().any(|o| {
                context_value(ctx, &o.context_name).is_some_and(|v| o.values.iter().any(|x| x == v))
            })
        });
        winner.is_some_and(|(name, _)| name == variant)
    }

    /// With no targeting key in `ctx`, was the answer decided by its absence?
    ///
    /// Conservative on purpose: a strategy that reads the key and did not
    /// match (or one that matched only because the key is missing, like
    /// `NOT_IN` on userId) means a key could change the answer. Strategies
    /// skipped before the deciding one only matter when they would have picked
    /// different variants. `with_variants` is false for a parent flag whose
    /// variant nobody looks at.
    pub(super) fn missing_key_decides(
        &self,
        ctx: &Context,
        decider: Decider,
        with_variants: bool,
    ) -> bool {
        let has_session = ctx.session_id.is_some();
        match decider {
            // Treated like "nothing matched" so that a keyless default-sticky
            // rollout answers TARGETING_KEY_MISSING whichever way we drew.
            Decider::Nothing | Decider::Unexplained => {
                self.strategies.iter().any(|s| s.lacks_key(has_session))
            }
            Decider::NoStrategies => with_variants && self.flag_variants.lacks_key(has_session),
            Decider::Strategy(index) => {
                let chosen = &self.strategies[index];
                let skipped = self.strategies[..index].iter().any(|s| {
                    s.lacks_key(has_session) && (s.variants.present || chosen.variants.present)
                });
                let split = with_variants && self.candidates(decider).lacks_key(has_session);
                chosen.lacks_key(has_session) || skipped || split
            }
        }
    }
}

fn flag_variants(feature: &ClientFeature) -> VariantList {
    let variants = feature.variants.as_deref().unwrap_or_default();
    // yggdrasil seeds a flag-level split with the first variant's stickiness.
    let stickiness = Stickiness::parse(variants.first().and_then(|v| v.stickiness.as_deref()));
    let user_overrides = variants
        .iter()
        .flat_map(|v| v.overrides.iter().flatten())
        .any(|o| o.context_name == "userId");
    VariantList::new(
        variants.iter().map(|v| v.weight),
        stickiness,
        user_overrides,
    )
}

fn flag_overrides(feature: &ClientFeature) -> Vec<(String, Vec<Override>)> {
    let variants = feature.variants.iter().flatten();
    variants
        .filter_map(|v| Some((v.name.clone(), v.overrides.clone()?)))
        .collect()
}

/// A context field by its Unleash name; anything else is a property.
fn context_value<'a>(ctx: &'a Context, name: &str) -> Option<&'a str> {
    let field = match name {
        "userId" => &ctx.user_id,
        "sessionId" => &ctx.session_id,
        "environment" => &ctx.environment,
        "appName" => &ctx.app_name,
        "currentTime" => &ctx.current_time,
        "remoteAddress" => &ctx.remote_address,
        _ => return ctx.properties.as_ref()?.get(name).map(String::as_str),
    };
    field.as_deref()
}
