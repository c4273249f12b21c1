//! Imports and protected environments. A protected environment changes only through a reviewed
//! change request (contract; reliability plan B6), and an import is a write like any other: the
//! CLI compares what each protected environment serves before and after the import, inside the
//! import's transaction, and refuses (rolling back) when one would change, unless an operator
//! overrides it explicitly, which is audited as such.
//!
//! "What it serves" is each flag's switch, strategies (with their segments' constraints),
//! variants and dependencies, and the environment's protection itself. A flag new to the
//! project that arrives switched off is not a change there: creating a flag needs no review
//! either, and switching it on later does.

use crate::audit::{self, Actor, NewEntry};
use crate::db::Conn;
use crate::error::AppResult;
use crate::projects::{store as projects, Project};
use crate::targeting::store::environment_state;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// What one protected environment serves, flag by flag, as comparable JSON.
#[derive(Debug, PartialEq)]
pub struct Served {
    protection: (bool, i64),
    /// By flag key: (switched on, everything else that decides the evaluation).
    flags: BTreeMap<String, (bool, Value)>,
}

/// The protected environments of the project, by key, with what each serves.
pub async fn protected(conn: &mut Conn, project: &Project) -> AppResult<BTreeMap<String, Served>> {
    let mut out = BTreeMap::new();
    for env in projects::environments(&mut *conn, project.id).await? {
        if !env.protected {
            continue;
        }
        let (state, _) = environment_state(&mut *conn, project.id, &project.key, env.id).await?;
        let segments: HashMap<i32, Value> = state
            .segments
            .unwrap_or_default()
            .into_iter()
            .map(|s| (s.id, json!(s.constraints)))
            .collect();
        let flags = state
            .features
            .into_iter()
            .map(|f| {
                let strategies: Vec<Value> = f
                    .strategies
                    .unwrap_or_default()
                    .into_iter()
                    .map(|mut s| {
                        // Segments by content: their ids mean nothing across an import.
                        let used: Vec<Value> = s
                            .segments
                            .take()
                            .into_iter()
                            .flatten()
                            .map(|id| segments.get(&id).cloned().unwrap_or(Value::Null))
                            .collect();
                        json!({ "strategy": s, "segments": used })
                    })
                    .collect();
                let rest = json!({
                    "strategies": strategies,
                    "variants": f.variants,
                    "dependencies": f.dependencies,
                });
                (f.name, (f.enabled, rest))
            })
            .collect();
        let served = Served {
            protection: (env.protected, env.required_approvals),
            flags,
        };
        out.insert(env.key, served);
    }
    Ok(out)
}

/// The environments protected before whose serving differs after, in key order.
pub fn changed(before: &BTreeMap<String, Served>, after: &BTreeMap<String, Served>) -> Vec<String> {
    before
        .iter()
        .filter(|(key, was)| match after.get(*key) {
            None => true,
            Some(now) => differs(was, now),
        })
        .map(|(key, _)| key.clone())
        .collect()
}

fn differs(was: &Served, now: &Served) -> bool {
    if was.protection != now.protection {
        return true;
    }
    let gone_or_changed = was.flags.iter().any(|(k, v)| now.flags.get(k) != Some(v));
    let new_and_on = now
        .flags
        .iter()
        .any(|(k, (on, _))| *on && !was.flags.contains_key(k));
    gone_or_changed || new_and_on
}

/// The sentence a refused import ends with.
pub fn refusal(envs: &[String]) -> String {
    let (noun, verb) = if envs.len() == 1 {
        ("environment", "changes")
    } else {
        ("environments", "change")
    };
    format!(
        "the import would change the protected {noun} {}, which {verb} only through reviewed \
         change requests; nothing was imported. Import into an unprotected environment and \
         propose the change there, or pass --allow-protected to override as an operator \
         (audited)",
        envs.join(", ")
    )
}

/// Records that an operator let an import change protected environments without review.
pub async fn record_override(
    conn: &mut Conn,
    actor: &Actor,
    project: &Project,
    envs: &[String],
    format: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let entry = NewEntry::new(
        audit::Action::ImportProtectedOverride,
        format!("import into {} without review", project.key),
    )
    .project(&project.key)
    .after(json!({ "environments": envs, "format": format }))
    .reason(Some(
        "--allow-protected: an operator imported into protected environments",
    ));
    audit::append(conn, actor, entry, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(flags: &[(&str, bool, &str)]) -> Served {
        Served {
            protection: (true, 1),
            flags: flags
                .iter()
                .map(|(k, on, s)| (k.to_string(), (*on, json!(s))))
                .collect(),
        }
    }

    #[test]
    fn what_counts_as_a_change_to_a_protected_environment() {
        let base = served(&[("a", true, "x"), ("b", false, "y")]);
        let cases = [
            (
                "nothing",
                served(&[("a", true, "x"), ("b", false, "y")]),
                false,
            ),
            (
                "a new flag, off",
                served(&[("a", true, "x"), ("b", false, "y"), ("c", false, "z")]),
                false,
            ),
            (
                "a new flag, on",
                served(&[("a", true, "x"), ("b", false, "y"), ("c", true, "z")]),
                true,
            ),
            (
                "a switch",
                served(&[("a", false, "x"), ("b", false, "y")]),
                true,
            ),
            (
                "targeting of an off flag",
                served(&[("a", true, "x"), ("b", false, "w")]),
                true,
            ),
            ("a flag gone (archived)", served(&[("a", true, "x")]), true),
        ];
        for (what, after, expected) in cases {
            let before = BTreeMap::from([(
                "production".to_string(),
                served(&[("a", true, "x"), ("b", false, "y")]),
            )]);
            let after = BTreeMap::from([("production".to_string(), after)]);
            assert_eq!(!changed(&before, &after).is_empty(), expected, "{what}");
        }
        let mut unprotected = served(&[("a", true, "x"), ("b", false, "y")]);
        unprotected.protection = (false, 1);
        assert!(differs(&base, &unprotected), "lifting the protection");
    }

    #[test]
    fn the_refusal_names_the_environments() {
        assert!(refusal(&["production".into()]).starts_with(
            "the import would change the protected environment production, which changes only"
        ));
        assert!(refusal(&["prod-eu".into(), "prod-us".into()])
            .contains("environments prod-eu, prod-us, which change only"));
    }
}
