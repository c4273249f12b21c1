//! The template form: milestone rows (a share, a stickiness, one segment by name, a hold) read
//! into a draft, and a template shown as rows when every milestone is one plain rollout.

use crate::error::{AppError, AppResult};
use crate::evaluation::StrategyDraft;
use crate::rollout::{Milestone, MilestoneStrategy, TemplateDraft, TemplateView};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// Rows the form offers (filled ones, then blank ones up to this many).
pub(super) const ROWS: usize = 8;

/// One milestone row of the form.
#[derive(Clone, Default)]
pub(in crate::web) struct Row {
    pub name: String,
    pub percent: String,
    pub stickiness: String,
    pub segment: String,
    pub hold: String,
}

/// The form: `key`, `name`, `editing`, and `m{i}_name`, `m{i}_percent`, ... per row.
#[derive(Deserialize, Default)]
pub(super) struct TemplateForm {
    #[serde(flatten)]
    fields: HashMap<String, String>,
}

impl TemplateForm {
    pub(super) fn get(&self, k: &str) -> String {
        self.fields
            .get(k)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }

    pub(super) fn rows(&self) -> Vec<Row> {
        (0..ROWS)
            .map(|i| Row {
                name: self.get(&format!("m{i}_name")),
                percent: self.get(&format!("m{i}_percent")),
                stickiness: self.get(&format!("m{i}_stickiness")),
                segment: self.get(&format!("m{i}_segment")),
                hold: self.get(&format!("m{i}_hold")),
            })
            .collect()
    }

    /// The rows as a draft; a row is used when any of its cells is filled.
    pub(super) fn draft(&self) -> AppResult<TemplateDraft> {
        let mut milestones = Vec::new();
        for (i, r) in self.rows().into_iter().enumerate() {
            if [&r.name, &r.percent, &r.segment, &r.hold]
                .iter()
                .all(|c| c.is_empty())
            {
                continue;
            }
            let percent: u32 = r
                .percent
                .parse()
                .ok()
                .filter(|p| *p <= 100)
                .ok_or_else(|| {
                    AppError::invalid(
                        "milestones",
                        format!("row {}: give a share of 0 to 100 %", i + 1),
                    )
                })?;
            let hold: i64 = if r.hold.is_empty() {
                0
            } else {
                r.hold.parse().map_err(|_| {
                    AppError::invalid(
                        "milestones",
                        format!("row {}: give the hold in whole minutes", i + 1),
                    )
                })?
            };
            let mut parameters = BTreeMap::new();
            parameters.insert("rollout".to_string(), percent.to_string());
            let stickiness = if r.stickiness.is_empty() {
                "default".to_string()
            } else {
                r.stickiness.clone()
            };
            parameters.insert("stickiness".to_string(), stickiness);
            milestones.push(Milestone {
                name: if r.name.is_empty() {
                    format!("{percent} %")
                } else {
                    r.name.clone()
                },
                strategies: vec![MilestoneStrategy {
                    strategy: StrategyDraft {
                        name: "flexibleRollout".into(),
                        parameters,
                        ..Default::default()
                    },
                    segment_names: Some(r.segment.clone())
                        .filter(|s| !s.is_empty())
                        .into_iter()
                        .collect(),
                }],
                hold_minutes: hold,
            });
        }
        Ok(TemplateDraft {
            key: self.get("key"),
            name: self.get("name"),
            milestones,
        })
    }
}

/// The form's rows for a template, when every milestone is one plain rollout.
pub(super) fn rows_of(t: &TemplateView) -> Option<Vec<Row>> {
    t.milestones
        .iter()
        .map(|m| match m.strategies.as_slice() {
            [s] if s.strategy.name == "flexibleRollout"
                && s.strategy.constraints.is_empty()
                && s.strategy.segments.is_empty()
                && s.strategy.variants.is_empty()
                && s.segment_names.len() <= 1 =>
            {
                let p = &s.strategy.parameters;
                Some(Row {
                    name: m.name.clone(),
                    percent: p.get("rollout").cloned().unwrap_or_default(),
                    stickiness: p.get("stickiness").cloned().unwrap_or_default(),
                    segment: s.segment_names.first().cloned().unwrap_or_default(),
                    hold: m.hold_minutes.to_string(),
                })
            }
            _ => None,
        })
        .collect()
}

pub(super) fn padded(mut rows: Vec<Row>) -> Vec<Row> {
    rows.resize(ROWS.max(rows.len()), Row::default());
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filled_rows_become_milestones_and_blank_ones_are_skipped() {
        let fields: HashMap<String, String> = [
            ("key", "two-step"),
            ("name", "Two steps"),
            ("m0_percent", "10"),
            ("m0_hold", "30"),
            ("m0_segment", "internal"),
            ("m2_name", "All"),
            ("m2_percent", "100"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let draft = TemplateForm { fields }.draft().unwrap();
        assert_eq!(draft.milestones.len(), 2);
        assert_eq!(draft.milestones[0].name, "10 %");
        assert_eq!(draft.milestones[0].hold_minutes, 30);
        assert_eq!(
            draft.milestones[0].strategies[0].segment_names,
            ["internal"]
        );
        assert_eq!(draft.milestones[1].name, "All");
    }
}
