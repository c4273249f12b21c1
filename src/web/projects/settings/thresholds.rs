//! The settings form's lifecycle thresholds: when a flag counts as stale and how quiet it must be
//! before the retirement checklist passes. The form sends text; every field that is not a number
//! of days in range is named, and nothing is saved until all are right.

use crate::error::FieldError;
use crate::lifecycle::stale::Thresholds;
use std::collections::HashMap;

/// One threshold as the form shows it. `field` is the name the domain's check reports (and the
/// input's name), so its message lands by the right input.
pub struct ThresholdView {
    pub field: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub value: String,
}

type Get = fn(&Thresholds) -> i64;
type Set = fn(&mut Thresholds, i64);

const FIELDS: [(&str, &str, &str, Get, Set); 5] = [
    (
        "graceDays",
        "Grace period",
        "New flags are never stale before this age (0 to 365).",
        |t| t.grace_days,
        |t, v| t.grace_days = v,
    ),
    (
        "unusedDays",
        "Unused after",
        "No evaluation in an environment for this long while its SDKs were connected.",
        |t| t.unused_days,
        |t, v| t.unused_days = v,
    ),
    (
        "fullyRolledOutDays",
        "Fully rolled out after",
        "On for everyone in every protected environment for this long.",
        |t| t.fully_rolled_out_days,
        |t, v| t.fully_rolled_out_days = v,
    ),
    (
        "offDays",
        "Off everywhere after",
        "Off in every environment for this long.",
        |t| t.off_days,
        |t, v| t.off_days = v,
    ),
    (
        "retirementQuietDays",
        "Quiet before retiring",
        "Days without any evaluation the retirement checklist asks for.",
        |t| t.retirement_quiet_days,
        |t, v| t.retirement_quiet_days = v,
    ),
];

/// The form's rows for stored thresholds.
pub fn views(t: &Thresholds) -> Vec<ThresholdView> {
    FIELDS
        .iter()
        .map(|(field, label, hint, get, _)| ThresholdView {
            field,
            label,
            hint,
            value: get(t).to_string(),
        })
        .collect()
}

/// The form's rows as posted, so a refused form keeps what was typed.
pub fn posted_views(posted: &HashMap<String, String>, current: &Thresholds) -> Vec<ThresholdView> {
    let mut rows = views(current);
    for row in &mut rows {
        if let Some(v) = posted.get(row.field) {
            row.value = v.clone();
        }
    }
    rows
}

/// The thresholds the form asks for: a field it does not carry keeps its current value; one
/// that is not a whole number is named. Ranges are the domain's to check.
pub fn parse(
    posted: &HashMap<String, String>,
    current: &Thresholds,
) -> Result<Thresholds, Vec<FieldError>> {
    let mut t = *current;
    let mut errors = Vec::new();
    for (field, _, _, _, set) in FIELDS.iter() {
        let Some(raw) = posted.get(*field) else {
            continue;
        };
        match raw.trim().parse::<i64>() {
            Ok(v) => set(&mut t, v),
            Err(_) => errors.push(FieldError {
                field,
                message: "give a whole number of days".into(),
            }),
        }
    }
    if errors.is_empty() {
        Ok(t)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posted(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn missing_fields_keep_their_value_and_words_are_named() {
        let now = Thresholds::default();
        let t = parse(&posted(&[("offDays", " 45 ")]), &now).unwrap();
        assert_eq!((t.off_days, t.unused_days), (45, now.unused_days));
        let errors = parse(&posted(&[("graceDays", "a week"), ("offDays", "")]), &now).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["graceDays", "offDays"]);
    }

    #[test]
    fn a_refused_form_shows_what_was_typed() {
        let rows = posted_views(&posted(&[("unusedDays", "forty")]), &Thresholds::default());
        let unused = rows.iter().find(|r| r.field == "unusedDays").unwrap();
        assert_eq!(unused.value, "forty");
        let off = rows.iter().find(|r| r.field == "offDays").unwrap();
        assert_eq!(off.value, "30");
    }
}
