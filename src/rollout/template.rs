//! A release template: named milestones, each a set of strategies (Unleash's shape) and a hold
//! time. Pure: the shape, its validation (the engine's own, `evaluation::validate_strategies`),
//! and what a milestone exposes, for the progress bar.

use crate::error::{AppError, AppResult, PathError};
use crate::evaluation::{validate_strategies, StrategyDraft, ValueType};
use serde::{Deserialize, Serialize};

/// The longest hold a milestone may ask: 30 days.
pub const MAX_HOLD_MINUTES: i64 = 30 * 24 * 60;
pub const MAX_MILESTONES: usize = 20;

/// A strategy of a milestone. A template is shared by projects whose segments have different
/// ids, so it may name segments (`segmentNames`); they are resolved to the project's ids when the
/// template is applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MilestoneStrategy {
    #[serde(flatten)]
    pub strategy: StrategyDraft,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segment_names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Milestone {
    pub name: String,
    /// An empty list serves everyone (a flag on without strategies).
    #[serde(default)]
    pub strategies: Vec<MilestoneStrategy>,
    /// How long the milestone holds before the plan may advance on its own.
    #[serde(default)]
    pub hold_minutes: i64,
}

/// A template as created or edited (the admin API's body, the web form's parsed content).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateDraft {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub milestones: Vec<Milestone>,
}

fn err(field: String, message: impl Into<String>) -> PathError {
    PathError {
        field,
        message: message.into(),
    }
}

/// Every problem of the draft, with its JSON path; the trimmed draft when there is none.
pub fn validate(draft: TemplateDraft) -> AppResult<TemplateDraft> {
    let mut errors = Vec::new();
    let key = match crate::projects::valid_key(&draft.key) {
        Ok(k) => k,
        Err(m) => {
            errors.push(err("key".into(), m));
            String::new()
        }
    };
    let name = draft.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        errors.push(err("name".into(), "enter a name of 1 to 100 characters"));
    }
    if draft.milestones.is_empty() || draft.milestones.len() > MAX_MILESTONES {
        errors.push(err(
            "milestones".into(),
            format!("a template has 1 to {MAX_MILESTONES} milestones"),
        ));
    }
    let mut milestones = Vec::new();
    for (i, m) in draft.milestones.into_iter().enumerate() {
        let at = format!("milestones[{i}]");
        let mname = m.name.trim().to_string();
        if mname.is_empty() || mname.chars().count() > 80 {
            errors.push(err(
                format!("{at}.name"),
                "name the milestone in 1 to 80 characters",
            ));
        }
        if !(0..=MAX_HOLD_MINUTES).contains(&m.hold_minutes) {
            errors.push(err(
                format!("{at}.holdMinutes"),
                format!("hold for 0 to {MAX_HOLD_MINUTES} minutes (30 days)"),
            ));
        }
        let drafts: Vec<StrategyDraft> = m.strategies.iter().map(|s| s.strategy.clone()).collect();
        // Template strategies are checked as a boolean flag's; a flag of another type checks
        // variant payloads again when a plan writes them.
        for e in validate_strategies(&drafts, ValueType::Boolean) {
            errors.push(err(format!("{at}.{}", e.field), e.message));
        }
        for (j, s) in m.strategies.iter().enumerate() {
            for (k, n) in s.segment_names.iter().enumerate() {
                if n.trim().is_empty() {
                    errors.push(err(
                        format!("{at}.strategies[{j}].segmentNames[{k}]"),
                        "name the segment",
                    ));
                }
            }
        }
        milestones.push(Milestone { name: mname, ..m });
    }
    if !errors.is_empty() {
        return Err(AppError::InvalidPaths(errors));
    }
    Ok(TemplateDraft {
        key,
        name,
        milestones,
    })
}

/// What a set of strategies exposes, as a share of users: `Some(percent)` for rollouts that
/// reach a share of everyone (no constraints, no segments), `None` when it is targeted (a
/// segment, constraints, user ids): the bar then says "targeted".
pub fn exposure(strategies: &[StrategyDraft]) -> Option<u32> {
    if strategies.is_empty() {
        return Some(100);
    }
    let mut best: Option<u32> = None;
    for s in strategies {
        if !s.constraints.is_empty() || !s.segments.is_empty() {
            continue;
        }
        let p = match s.name.as_str() {
            "default" => Some(100),
            "flexibleRollout" => s.parameters.get("rollout").and_then(|r| r.parse().ok()),
            "gradualRolloutUserId" | "gradualRolloutSessionId" | "gradualRolloutRandom" => {
                s.parameters.get("percentage").and_then(|r| r.parse().ok())
            }
            _ => None,
        };
        if let Some(p) = p {
            best = Some(best.map_or(p, |b: u32| b.max(p)));
        }
    }
    best.map(|p| p.min(100))
}

/// True when the strategies serve every user at once (the project setting that asks for a
/// gradual start refuses switching such a flag on directly in a protected environment).
pub fn serves_everyone(strategies: &[StrategyDraft]) -> bool {
    exposure(strategies) == Some(100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn draft(v: serde_json::Value) -> TemplateDraft {
        serde_json::from_value(v).unwrap()
    }

    fn rollout(p: &str) -> StrategyDraft {
        serde_json::from_value(json!({"name": "flexibleRollout", "parameters": {"rollout": p}}))
            .unwrap()
    }

    #[test]
    fn a_template_names_every_problem_with_its_path() {
        let bad = draft(json!({"key": "Bad Key", "name": "", "milestones": [
            {"name": "", "holdMinutes": -1, "strategies": [{"name": "nonsense"}]},
        ]}));
        let AppError::InvalidPaths(errors) = validate(bad).unwrap_err() else {
            panic!("not field errors")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "key",
                "name",
                "milestones[0].name",
                "milestones[0].holdMinutes",
                "milestones[0].strategies[0].name"
            ]
        );
        let none = draft(json!({"key": "k", "name": "K", "milestones": []}));
        assert!(validate(none).is_err());
    }

    #[test]
    fn segment_names_ride_along_with_the_unleash_shape() {
        let t = validate(draft(
            json!({"key": "int", "name": " Internal ", "milestones": [
            {"name": "Staff", "holdMinutes": 60, "strategies": [
                {"name": "flexibleRollout", "parameters": {"rollout": "100"},
                 "segmentNames": ["internal"]}]}]}),
        ))
        .unwrap();
        assert_eq!(t.name, "Internal");
        let s = &t.milestones[0].strategies[0];
        assert_eq!(s.segment_names, ["internal"]);
        assert_eq!(s.strategy.parameters["rollout"], "100");
    }

    #[test]
    fn exposure_reads_the_widest_untargeted_rollout() {
        assert_eq!(exposure(&[]), Some(100));
        assert_eq!(exposure(&[rollout("10")]), Some(10));
        assert_eq!(exposure(&[rollout("10"), rollout("25")]), Some(25));
        let mut targeted = rollout("100");
        targeted.segments = vec![3];
        assert_eq!(exposure(&[targeted.clone()]), None);
        assert!(!serves_everyone(&[targeted]));
        assert!(serves_everyone(&[rollout("100")]));
        let standard = StrategyDraft {
            name: "default".into(),
            ..Default::default()
        };
        assert!(serves_everyone(&[standard]));
    }
}
