//! Parts of a flag evaluated on their own through the engine: each piece (a strategy, its
//! rollout without constraints, one constraint, one segment, one dependency) becomes a toggle of
//! the flag's own name (so hashing uses the same group) in an engine of its own, and the engine
//! says whether it is on. Buckets come from the engine's own `normalized_hash`.

use std::collections::HashMap;

use unleash_types::client_features::{
    ClientFeature, ClientFeatures, Constraint, FeatureDependency, Segment, Strategy,
};
use unleash_yggdrasil::strategy_parsing::normalized_hash;
use unleash_yggdrasil::{Context, EngineState, UpdateMessage};

/// yggdrasil's seed for variant hashing (`VARIANT_NORMALIZATION_SEED`, private to the crate);
/// a unit test checks that the variant it predicts is the engine's.
pub(super) const VARIANT_SEED: u32 = 86_028_157;

/// What the pieces are evaluated against: the flag and the environment's segments and flags.
pub(super) struct Bench<'a> {
    pub flag: &'a ClientFeature,
    pub segments: &'a Option<Vec<Segment>>,
    pub features: &'a HashMap<&'a str, &'a ClientFeature>,
    pub ctx: &'a Context,
}

impl Bench<'_> {
    /// The flag, on, with only `strategies` (and `dependencies`) and no variants, in an engine
    /// with `extra` flags beside it.
    fn on(
        &self,
        strategies: Vec<Strategy>,
        dependencies: Option<Vec<FeatureDependency>>,
        extra: Vec<ClientFeature>,
    ) -> bool {
        let mut piece = self.flag.clone();
        piece.enabled = true;
        piece.strategies = Some(strategies);
        piece.dependencies = dependencies;
        piece.variants = None;
        let mut features = vec![piece];
        features.extend(extra);
        let engine = EngineState::default();
        engine.take_state(UpdateMessage::FullResponse(ClientFeatures {
            version: 2,
            features,
            segments: self.segments.clone(),
            query: None,
            meta: None,
        }));
        engine.is_enabled(&self.flag.name, self.ctx, &None)
    }

    /// The whole strategy: its rollout, constraints and segments.
    pub fn strategy(&self, s: &Strategy) -> bool {
        let mut s = s.clone();
        s.variants = None;
        self.on(vec![s], None, vec![])
    }

    /// The strategy's own rule (rollout, ids, addresses) without constraints or segments.
    pub fn rule(&self, s: &Strategy) -> bool {
        let mut s = s.clone();
        s.constraints = None;
        s.segments = None;
        s.variants = None;
        self.on(vec![s], None, vec![])
    }

    pub fn constraint(&self, c: &Constraint) -> bool {
        self.on(vec![plain(Some(vec![c.clone()]), None)], None, vec![])
    }

    pub fn segment(&self, id: i32) -> bool {
        self.on(vec![plain(None, Some(vec![id]))], None, vec![])
    }

    /// Whether one dependency is met: the flag on for everyone but for that dependency, beside
    /// the parent as the environment serves it.
    pub fn dependency(&self, d: &FeatureDependency) -> bool {
        let parent = self.features.get(d.feature.as_str()).map(|p| (*p).clone());
        self.on(vec![], Some(vec![d.clone()]), parent.into_iter().collect())
    }
}

/// The `default` strategy (on for everyone) with these constraints or segments.
fn plain(constraints: Option<Vec<Constraint>>, segments: Option<Vec<i32>>) -> Strategy {
    Strategy {
        name: "default".into(),
        sort_order: None,
        segments,
        constraints,
        parameters: None,
        variants: None,
    }
}

/// A context field by its Unleash name; anything else is a property.
pub(super) fn context_value<'a>(ctx: &'a Context, name: &str) -> Option<&'a str> {
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

/// The identity a hash reads for `stickiness` (`default`: userId, then sessionId); None means
/// the engine draws at random.
pub(super) fn sticky_value<'a>(ctx: &'a Context, stickiness: &str) -> Option<&'a str> {
    match stickiness {
        "default" => context_value(ctx, "userId").or_else(|| context_value(ctx, "sessionId")),
        "random" => None,
        other => context_value(ctx, other),
    }
}

/// The rollout bucket (1 to 100) the engine computes for `identity` in `group`.
pub(super) fn rollout_bucket(group: &str, identity: &str) -> Option<u32> {
    normalized_hash(group, identity, 100, 0).ok()
}

/// The variant bucket (1 to `total`) the engine computes.
pub(super) fn variant_bucket(group: &str, identity: &str, total: u32) -> Option<u32> {
    (total > 0)
        .then(|| normalized_hash(group, identity, total, VARIANT_SEED).ok())
        .flatten()
}
