//! What everyone gets today: per environment, whether every user gets the same answer from a
//! flag and which one, and from that the code change its removal needs ("keep the on-path,
//! delete the off-path"). Pure: an environment's stored targeting (Unleash's shape) comes in.
//!
//! Evaluation follows Unleash: an enabled flag with no strategies is on for everyone; the first
//! strategy that matches decides, and its variants (or else the flag's) pick the variant. So the
//! answer is the same for everyone when a strategy that includes everyone (`default`, or a
//! rollout at 100 %, without constraints or segments) is reached, and every strategy up to it
//! can only hand out that one outcome.

use crate::evaluation::ValueType;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One environment's state of a flag, as stored.
#[derive(Debug, Clone, Copy)]
pub struct EnvTargeting<'a> {
    pub environment: &'a str,
    pub protected: bool,
    pub on: bool,
    pub strategies: &'a [Value],
    pub variants: &'a [Value],
    /// The flags this one depends on (their state decides it too).
    pub parents: &'a [String],
}

/// What the users of one environment get.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Gets {
    /// The flag is off: SDKs answer `false`, or the code's default value.
    Off,
    /// On for everyone, without a variant.
    On,
    /// On for everyone, with this one variant.
    Variant {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payload: Option<String>,
    },
    /// Not everyone gets the same; why.
    Varies { why: String },
}

/// One environment's answer, with the sentence to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvGets {
    pub environment: String,
    pub protected: bool,
    pub gets: Gets,
    pub text: String,
}

/// The code change removing the flag needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionCode {
    KeepOnPath,
    DeleteOnPath,
    KeepVariant,
    Decide,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suggestion {
    pub code: ActionCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// What to do, as a sentence.
    pub text: String,
}

/// An owner's completion, which outranks what the targeting suggests.
#[derive(Debug, Clone, Copy)]
pub struct Decided<'a> {
    /// `kept` or `discarded`.
    pub outcome: &'a str,
    pub variant: Option<&'a str>,
}

fn weighted(variants: &[Value]) -> Vec<&Value> {
    variants
        .iter()
        .filter(|v| v.get("weight").and_then(Value::as_i64).unwrap_or(1) > 0)
        .collect()
}

fn param(s: &Value, key: &str) -> Option<String> {
    let v = s.get("parameters")?.get(key)?;
    Some(
        v.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v.to_string()),
    )
}

fn restricted(s: &Value) -> bool {
    ["constraints", "segments"].iter().any(|field| {
        s.get(*field)
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    })
}

/// The share of users a strategy's rollout admits (100 for strategies without one).
fn rollout(s: &Value) -> Option<u32> {
    let key = match s.get("name").and_then(Value::as_str) {
        Some("default") => return Some(100),
        Some("flexibleRollout") => "rollout",
        Some("gradualRolloutUserId" | "gradualRolloutSessionId" | "gradualRolloutRandom") => {
            "percentage"
        }
        // userWithId, remoteAddress, applicationHostname and custom strategies pick users.
        _ => return None,
    };
    param(s, key).and_then(|p| p.trim().parse().ok())
}

fn name_of(v: &Value) -> String {
    v.get("name")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string()
}

fn payload_of(v: &Value) -> Option<String> {
    let p = v.get("payload")?.get("value")?;
    Some(
        p.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| p.to_string()),
    )
}

/// What one environment serves everyone, or why it varies.
pub fn environment(env: &EnvTargeting<'_>) -> Gets {
    if !env.on {
        return Gets::Off;
    }
    if let Some(parent) = env.parents.first() {
        return Gets::Varies {
            why: format!("it depends on the flag {parent}"),
        };
    }
    let flag_variants = weighted(env.variants);
    // The variants a matching strategy hands out (its own, else the flag's); None: no variant.
    fn outcomes_of<'a>(
        s: Option<&'a Value>,
        flag_variants: &[&'a Value],
    ) -> Vec<Option<&'a Value>> {
        let own = s
            .and_then(|s| s.get("variants"))
            .and_then(Value::as_array)
            .map(|v| weighted(v))
            .unwrap_or_default();
        let chosen = if own.is_empty() { flag_variants } else { &own };
        if chosen.is_empty() {
            vec![None]
        } else {
            chosen.iter().map(|v| Some(*v)).collect()
        }
    }
    let mut outcomes: Vec<Option<&Value>> = Vec::new();
    let mut everyone = env.strategies.is_empty();
    if everyone {
        outcomes = outcomes_of(None, &flag_variants);
    }
    for s in env.strategies {
        if s.get("disabled").and_then(Value::as_bool) == Some(true) || rollout(s) == Some(0) {
            continue; // matches nobody
        }
        outcomes.extend(outcomes_of(Some(s), &flag_variants));
        if !restricted(s) && rollout(s) == Some(100) {
            everyone = true;
            break;
        }
    }
    if outcomes.is_empty() {
        return Gets::Off; // on, but no strategy matches anyone
    }
    if !everyone {
        return Gets::Varies {
            why: "only the users its strategies match get it".into(),
        };
    }
    let mut names: Vec<Option<String>> = outcomes.iter().map(|o| o.map(name_of)).collect();
    names.sort();
    names.dedup();
    match (names.as_slice(), outcomes[0]) {
        ([None], _) => Gets::On,
        ([Some(_)], Some(v)) => Gets::Variant {
            name: name_of(v),
            payload: payload_of(v),
        },
        _ => {
            let split: Vec<String> = names
                .iter()
                .map(|n| match n {
                    Some(n) => format!("variant {n}"),
                    None => "no variant".into(),
                })
                .collect();
            Gets::Varies {
                why: format!("users are split between {}", split.join(" and ")),
            }
        }
    }
}

/// The sentence for one environment, such as "everyone gets `true`".
pub fn describe(gets: &Gets, value_type: ValueType) -> String {
    match (gets, value_type) {
        (Gets::Off, ValueType::Boolean) => "everyone gets `false` (the flag is off)".into(),
        (Gets::Off, _) => "everyone gets the default value in the code (the flag is off)".into(),
        (Gets::On, _) => "everyone gets `true`".into(),
        (
            Gets::Variant {
                name,
                payload: Some(p),
            },
            _,
        ) => {
            format!("everyone gets variant `{name}` (`{p}`)")
        }
        (
            Gets::Variant {
                name,
                payload: None,
            },
            _,
        ) => format!("everyone gets variant `{name}`"),
        (Gets::Varies { why }, _) => format!("it varies by user: {why}"),
    }
}

/// Every environment's answer, in the order given.
pub fn environments(envs: &[EnvTargeting<'_>], value_type: ValueType) -> Vec<EnvGets> {
    envs.iter()
        .map(|e| {
            let gets = environment(e);
            EnvGets {
                environment: e.environment.to_string(),
                protected: e.protected,
                text: describe(&gets, value_type),
                gets,
            }
        })
        .collect()
}

fn suggestion(code: ActionCode, variant: Option<String>, text: String) -> Suggestion {
    Suggestion {
        code,
        variant,
        text,
    }
}

/// The code change to make when removing the flag: the owner's recorded outcome when the flag
/// was completed; otherwise what the protected environments (production), or every environment
/// when none is protected, serve everyone today.
pub fn suggest(envs: &[EnvGets], decided: Option<Decided<'_>>) -> Suggestion {
    if let Some(d) = decided {
        return match (d.outcome, d.variant.filter(|v| !v.trim().is_empty())) {
            ("discarded", _) => suggestion(
                ActionCode::DeleteOnPath,
                None,
                "delete the on-path: the feature was discarded".into(),
            ),
            (_, Some(v)) => suggestion(
                ActionCode::KeepVariant,
                Some(v.to_string()),
                format!("keep variant `{v}`, as recorded when it was completed"),
            ),
            _ => suggestion(
                ActionCode::KeepOnPath,
                None,
                "keep the on-path, delete the off-path: it was released and kept".into(),
            ),
        };
    }
    let protected: Vec<&EnvGets> = envs.iter().filter(|e| e.protected).collect();
    let basis: Vec<&EnvGets> = if protected.is_empty() {
        envs.iter().collect()
    } else {
        protected
    };
    let place = if basis.len() == 1 {
        format!("in {}", basis[0].environment)
    } else if basis.len() == envs.len() {
        "everywhere".to_string()
    } else {
        format!(
            "in {}",
            basis
                .iter()
                .map(|e| e.environment.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let first = basis.first().map(|e| &e.gets);
    let same = first.is_some() && basis.iter().all(|e| Some(&e.gets) == first);
    match first.filter(|_| same) {
        Some(Gets::On) => suggestion(
            ActionCode::KeepOnPath,
            None,
            format!("keep the on-path, delete the off-path: everyone gets it {place}"),
        ),
        Some(Gets::Off) => suggestion(
            ActionCode::DeleteOnPath,
            None,
            format!("delete the on-path: the flag is off for everyone {place}"),
        ),
        Some(Gets::Variant { name, .. }) => suggestion(
            ActionCode::KeepVariant,
            Some(name.clone()),
            format!("keep variant `{name}`: everyone gets it {place}"),
        ),
        _ => suggestion(
            ActionCode::Decide,
            None,
            "varies by user: decide what everyone should get before removing it".into(),
        ),
    }
}

#[cfg(test)]
mod tests;
