//! Why a flag might be stale, each reason with its evidence as data. Pure: the facts about a
//! flag (its age, environments, usage, code references, owner) come in, reasons come out.
//!
//! "No data" is never "unused": a flag counts as unused in an environment only when SDKs of that
//! environment reported throughout the window and none of them evaluated it.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Value};

/// The reason codes, as the API, the feed and every export name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Code {
    PastExpectedLifetime,
    Unused,
    FullyRolledOut,
    OffEverywhere,
    NoCodeReferences,
    NoOwner,
}

impl Code {
    pub const ALL: [Code; 6] = [
        Code::PastExpectedLifetime,
        Code::Unused,
        Code::FullyRolledOut,
        Code::OffEverywhere,
        Code::NoCodeReferences,
        Code::NoOwner,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::PastExpectedLifetime => "past-expected-lifetime",
            Code::Unused => "unused",
            Code::FullyRolledOut => "fully-rolled-out",
            Code::OffEverywhere => "off-everywhere",
            Code::NoCodeReferences => "no-code-references",
            Code::NoOwner => "no-owner",
        }
    }

    pub fn parse(s: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// A short label for badges.
    pub fn label(self) -> &'static str {
        match self {
            Code::PastExpectedLifetime => "past its lifetime",
            Code::Unused => "unused",
            Code::FullyRolledOut => "fully rolled out",
            Code::OffEverywhere => "off everywhere",
            Code::NoCodeReferences => "not in the code",
            Code::NoOwner => "no owner",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StaleReason {
    pub code: Code,
    pub message: String,
    pub evidence: Value,
}

/// The thresholds of one project, in days (a field left out takes its default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Thresholds {
    /// New flags are never stale before this age.
    pub grace_days: i64,
    pub unused_days: i64,
    pub fully_rolled_out_days: i64,
    pub off_days: i64,
    /// Days without any evaluation the retirement checklist asks for before archiving.
    pub retirement_quiet_days: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            grace_days: 7,
            unused_days: 30,
            fully_rolled_out_days: 14,
            off_days: 30,
            retirement_quiet_days: 7,
        }
    }
}

impl Thresholds {
    /// Each threshold must lie in 1..=365 days (the grace period may be 0); the fields that do
    /// not, with the sentence to show.
    pub fn check(&self) -> Vec<(&'static str, String)> {
        let mut bad = Vec::new();
        let mut range = |field: &'static str, v: i64, min: i64| {
            if !(min..=365).contains(&v) {
                bad.push((field, format!("give a number of days from {min} to 365")));
            }
        };
        range("graceDays", self.grace_days, 0);
        range("unusedDays", self.unused_days, 1);
        range("fullyRolledOutDays", self.fully_rolled_out_days, 1);
        range("offDays", self.off_days, 1);
        range("retirementQuietDays", self.retirement_quiet_days, 1);
        bad
    }
}

/// One environment of the flag, now.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    pub key: String,
    pub protected: bool,
    pub on: bool,
    /// Its targeting serves the same to everyone (see [`serves_everyone`]).
    pub everyone: bool,
    /// The last change to the flag there (switch or targeting), or its creation.
    pub changed_at: DateTime<Utc>,
}

/// What SDKs of one environment reported, within the unused window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Usage {
    pub environment: String,
    /// First and last registration or metrics post of any SDK of the environment.
    pub sdks_first_seen: Option<DateTime<Utc>>,
    pub sdks_last_seen: Option<DateTime<Utc>>,
    pub apps: Vec<String>,
    /// The flag's last evaluation there.
    pub last_evaluated: Option<DateTime<Utc>>,
}

/// The latest scan of one repository that reported for the project.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scan {
    pub repository: String,
    pub scanned_at: String,
    pub commit: Option<String>,
    /// References to this flag found in it.
    pub references: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Owner {
    Nobody,
    User { email: String, active: bool },
    Team { key: String, members: usize },
}

/// Everything the rules look at for one flag.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub created_at: DateTime<Utc>,
    /// Of a permanent type, a kill switch, or marked permanent: never stale.
    pub exempt: bool,
    /// The expected lifetime that applies (the flag's own, else the project's for its type).
    pub lifetime_days: Option<i64>,
    pub environments: &'a [Environment],
    pub usage: &'a [Usage],
    /// None when no repository ever reported a scan for the project.
    pub scans: Option<&'a [Scan]>,
    pub owner: &'a Owner,
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn days(n: i64) -> String {
    format!("{n} day{}", if n == 1 { "" } else { "s" })
}

/// The reasons the flag is stale now, in the order of [`Code::ALL`]; empty when it is healthy,
/// exempt, or younger than the grace period.
pub fn reasons(f: &Facts<'_>, t: &Thresholds, now: DateTime<Utc>) -> Vec<StaleReason> {
    let age = (now - f.created_at).num_days();
    if f.exempt || now - f.created_at < Duration::days(t.grace_days) {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(life) = f.lifetime_days {
        if now - f.created_at > Duration::days(life) {
            out.push(StaleReason {
                code: Code::PastExpectedLifetime,
                message: format!(
                    "{} old; flags like it are expected to live {}",
                    days(age),
                    days(life)
                ),
                evidence: json!({
                    "createdAt": stamp(f.created_at), "ageDays": age, "expectedLifetimeDays": life,
                }),
            });
        }
    }
    out.extend(unused(f, t, now));
    out.extend(fully_rolled_out(f, t, now));
    out.extend(off_everywhere(f, t, now));
    out.extend(no_code_references(f));
    out.extend(no_owner(f));
    out
}

fn unused(f: &Facts<'_>, t: &Thresholds, now: DateTime<Utc>) -> Option<StaleReason> {
    let start = now - Duration::days(t.unused_days);
    if f.created_at > start {
        return None;
    }
    // Environments whose SDKs reported from before the window until inside it.
    let watched: Vec<&Usage> = f
        .usage
        .iter()
        .filter(|u| {
            u.sdks_first_seen.is_some_and(|s| s <= start)
                && u.sdks_last_seen.is_some_and(|s| s >= start)
        })
        .collect();
    if watched.is_empty()
        || watched
            .iter()
            .any(|u| u.last_evaluated.is_some_and(|e| e >= start))
    {
        return None;
    }
    let envs: Vec<&str> = watched.iter().map(|u| u.environment.as_str()).collect();
    let evidence: Vec<Value> = watched
        .iter()
        .map(|u| {
            json!({
                "environment": u.environment,
                "lastEvaluatedAt": u.last_evaluated.map(stamp),
                "sdksSeenFrom": u.sdks_first_seen.map(stamp),
                "sdksSeenUntil": u.sdks_last_seen.map(stamp),
                "apps": u.apps,
            })
        })
        .collect();
    Some(StaleReason {
        code: Code::Unused,
        message: format!(
            "not evaluated for {} in {}, while their SDKs were connected",
            days(t.unused_days),
            envs.join(", ")
        ),
        evidence: json!({ "windowDays": t.unused_days, "environments": evidence }),
    })
}

fn fully_rolled_out(f: &Facts<'_>, t: &Thresholds, now: DateTime<Utc>) -> Option<StaleReason> {
    let protected: Vec<&Environment> = f.environments.iter().filter(|e| e.protected).collect();
    if protected.is_empty() || !protected.iter().all(|e| e.on && e.everyone) {
        return None;
    }
    let since = protected.iter().map(|e| e.changed_at).max()?;
    let held = (now - since).num_days();
    if now - since < Duration::days(t.fully_rolled_out_days) {
        return None;
    }
    let envs: Vec<&str> = protected.iter().map(|e| e.key.as_str()).collect();
    Some(StaleReason {
        code: Code::FullyRolledOut,
        message: format!("on for everyone in {} for {}", envs.join(", "), days(held)),
        evidence: json!({ "environments": envs, "since": stamp(since), "days": held }),
    })
}

fn off_everywhere(f: &Facts<'_>, t: &Thresholds, now: DateTime<Utc>) -> Option<StaleReason> {
    if f.environments.is_empty() || f.environments.iter().any(|e| e.on) {
        return None;
    }
    let since = f
        .environments
        .iter()
        .map(|e| e.changed_at)
        .chain(std::iter::once(f.created_at))
        .max()?;
    let held = (now - since).num_days();
    if now - since < Duration::days(t.off_days) {
        return None;
    }
    Some(StaleReason {
        code: Code::OffEverywhere,
        message: format!("off in every environment for {}", days(held)),
        evidence: json!({ "since": stamp(since), "days": held }),
    })
}

fn no_code_references(f: &Facts<'_>) -> Option<StaleReason> {
    let scans = f.scans.filter(|s| !s.is_empty())?;
    if scans.iter().any(|s| s.references > 0) {
        return None;
    }
    let repos: Vec<&str> = scans.iter().map(|s| s.repository.as_str()).collect();
    Some(StaleReason {
        code: Code::NoCodeReferences,
        message: format!(
            "no code references in the latest scan of {}",
            repos.join(", ")
        ),
        evidence: json!({ "scans": scans }),
    })
}

fn no_owner(f: &Facts<'_>) -> Option<StaleReason> {
    let (message, evidence) = match f.owner {
        Owner::Nobody => ("nobody owns it".to_string(), json!({ "owner": null })),
        Owner::User {
            email,
            active: false,
        } => (
            format!("its owner {email} is deactivated"),
            json!({ "owner": email, "kind": "user", "active": false }),
        ),
        Owner::Team { key, members: 0 } => (
            format!("its owning team {key} has no members"),
            json!({ "owner": key, "kind": "team", "members": 0 }),
        ),
        _ => return None,
    };
    Some(StaleReason {
        code: Code::NoOwner,
        message,
        evidence,
    })
}

/// True when an environment's targeting (Unleash's shape, as stored) gives every user the same
/// answer while the flag is on: no strategies, or a strategy without constraints or segments
/// that includes everyone (`default`, or a rollout at 100 %), and at most one variant with
/// weight.
pub fn serves_everyone(strategies: &[Value], variants: &[Value]) -> bool {
    let weighted = |vs: &[Value]| {
        vs.iter()
            .filter(|v| v.get("weight").and_then(Value::as_i64).unwrap_or(1) > 0)
            .count()
    };
    let for_all = |s: &Value| {
        let empty = |field: &str| {
            s.get(field)
                .and_then(Value::as_array)
                .is_none_or(|a| a.is_empty())
        };
        let param = |k: &str| {
            s.get("parameters").and_then(|p| p.get(k)).and_then(|v| {
                v.as_str()
                    .map(str::to_string)
                    .or_else(|| Some(v.to_string()))
            })
        };
        let everyone = match s.get("name").and_then(Value::as_str) {
            Some("default") => true,
            Some("flexibleRollout") => param("rollout").as_deref() == Some("100"),
            Some("gradualRolloutUserId" | "gradualRolloutSessionId" | "gradualRolloutRandom") => {
                param("percentage").as_deref() == Some("100")
            }
            _ => false,
        };
        let strategy_variants = s
            .get("variants")
            .and_then(Value::as_array)
            .map_or(0, |v| weighted(v));
        everyone && empty("constraints") && empty("segments") && strategy_variants <= 1
    };
    let flag_variants_ok = weighted(variants) <= 1;
    flag_variants_ok && (strategies.is_empty() || strategies.iter().any(for_all))
}

#[cfg(test)]
mod tests;
