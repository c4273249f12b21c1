//! The numbers behind a percentage and a variant: which identity was hashed, in which group, and
//! the bucket the engine's hash put it in.

use serde::Serialize;
use unleash_types::client_features::Strategy;

use super::pieces::{context_value, rollout_bucket, sticky_value, variant_bucket, Bench};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutCheck {
    /// The share of buckets (1 to 100) that are in.
    pub percentage: Option<u32>,
    pub stickiness: String,
    pub group_id: String,
    /// The context value hashed; None when there is none (random, or off for a custom field).
    pub identity: Option<String>,
    /// 1 to 100; in the rollout when at most the percentage.
    pub bucket: Option<u32>,
}

impl RolloutCheck {
    pub fn describe(&self) -> String {
        let pct = self
            .percentage
            .map_or("no valid percentage".to_string(), |p| format!("{p} %"));
        match (&self.identity, self.bucket) {
            (Some(id), Some(b)) => {
                format!(
                    "{} {id} is in bucket {b} of 100, rollout {pct}",
                    self.stickiness
                )
            }
            _ if self.stickiness == "random" => format!("a random draw against {pct}"),
            _ => format!("no {} in the context to hash ({pct})", self.stickiness),
        }
    }
}

fn param<'a>(s: &'a Strategy, name: &str) -> Option<&'a str> {
    s.parameters.as_ref()?.get(name).map(String::as_str)
}

/// The rollout of percentage strategies; None for the others.
pub(super) fn rollout_check(bench: &Bench, s: &Strategy) -> Option<RolloutCheck> {
    let (percent_param, stickiness, group) = match s.name.as_str() {
        "flexibleRollout" => (
            "rollout",
            param(s, "stickiness").unwrap_or("default"),
            param(s, "groupId").unwrap_or(&bench.flag.name),
        ),
        "gradualRolloutUserId" => ("percentage", "userId", param(s, "groupId").unwrap_or("")),
        "gradualRolloutSessionId" => ("percentage", "sessionId", param(s, "groupId").unwrap_or("")),
        "gradualRolloutRandom" => ("percentage", "random", ""),
        _ => return None,
    };
    let identity = sticky_value(bench.ctx, stickiness);
    Some(RolloutCheck {
        percentage: param(s, percent_param).and_then(|p| p.parse().ok()),
        stickiness: stickiness.to_string(),
        group_id: group.to_string(),
        identity: identity.map(str::to_string),
        bucket: identity.and_then(|id| rollout_bucket(group, id)),
    })
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantCheck {
    /// `strategy` when the deciding strategy has its own variants, else `flag`.
    pub source: &'static str,
    pub stickiness: String,
    pub group_id: String,
    pub identity: Option<String>,
    pub total_weight: u32,
    /// 1 to the total weight; the variant is the first whose running weight reaches it.
    pub bucket: Option<u32>,
    /// The variant that bucket falls in; when the engine answered another, an override decided.
    pub hashed_variant: Option<String>,
}

/// The variant pick of an enabled flag: from the deciding strategy's variants when it has any,
/// else the flag's, as the engine picks.
pub(super) fn variant_check(bench: &Bench, deciding: Option<usize>) -> Option<VariantCheck> {
    let strategy = deciding.and_then(|i| bench.flag.strategies.as_ref()?.get(i));
    let own: Vec<(String, i32, Option<String>)> = strategy
        .and_then(|s| s.variants.as_ref())
        .map(|vs| {
            let each = vs.iter();
            each.map(|v| (v.name.clone(), v.weight, v.stickiness.clone()))
                .collect()
        })
        .unwrap_or_default();
    let (source, variants, group) = if !own.is_empty() {
        let s = strategy?;
        let group = param(s, "groupId").unwrap_or(&bench.flag.name);
        ("strategy", own, group.to_string())
    } else {
        let flag = bench.flag.variants.iter().flatten();
        let list: Vec<_> = flag
            .map(|v| (v.name.clone(), v.weight, v.stickiness.clone()))
            .collect();
        ("flag", list, bench.flag.name.clone())
    };
    if variants.is_empty() {
        return None;
    }
    let stickiness = variants[0].2.clone().unwrap_or_else(|| "default".into());
    let total: u32 = variants.iter().map(|v| v.1.max(0) as u32).sum();
    // As the engine seeds variants: `default` is userId then sessionId; any other name is a
    // context field or property (so `random` is only ever a property); none means a random pick.
    let identity = match stickiness.as_str() {
        "default" => sticky_value(bench.ctx, "default"),
        other => context_value(bench.ctx, other),
    };
    let bucket = identity.and_then(|id| variant_bucket(&group, id, total));
    let hashed_variant = bucket.and_then(|b| {
        let mut running = 0u32;
        variants.iter().find_map(|(name, weight, _)| {
            running += (*weight).max(0) as u32;
            (running >= b).then(|| name.clone())
        })
    });
    Some(VariantCheck {
        source,
        stickiness,
        group_id: group,
        identity: identity.map(str::to_string),
        total_weight: total,
        bucket,
        hashed_variant,
    })
}
