//! The inbox's Closed tab: applied, rejected and cancelled requests, narrowed by state, project,
//! author and a date since which they closed. The filters travel in the URL, so a view can be
//! shared; a date that cannot be read is said beside its field and filters nothing.

use crate::changes::service::ListQuery;
use crate::changes::State;
use crate::web::Errors;
use chrono::{NaiveDate, TimeZone, Utc};
use serde::Deserialize;

/// The Closed tab's query string (`tab=closed` and these).
#[derive(Deserialize, Default, Clone)]
pub(super) struct ClosedParams {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub project: String,
    #[serde(default)]
    pub author: String,
    /// A day, `YYYY-MM-DD` (as `<input type="date">` sends it), read as UTC midnight.
    #[serde(default)]
    pub since: String,
}

/// The finished states one may choose, with their labels.
pub(super) const CLOSED_STATES: [(&str, &str); 3] = [
    ("applied", "Applied"),
    ("rejected", "Rejected"),
    ("cancelled", "Cancelled"),
];

/// The filter form as shown again: what was chosen, the choices, and any field error.
pub(super) struct ClosedFilter {
    pub state: String,
    pub project: String,
    pub author: String,
    pub since: String,
    pub projects: Vec<String>,
    pub authors: Vec<String>,
    pub errors: Errors,
}

impl ClosedFilter {
    /// True when any filter is set (the empty state says so).
    pub fn narrowed(&self) -> bool {
        ![&self.state, &self.project, &self.author, &self.since]
            .iter()
            .all(|s| s.is_empty())
    }
}

/// The list query the parameters ask for, and the field errors of those that cannot be read.
pub(super) fn query(p: &ClosedParams) -> (ListQuery<'_>, Errors) {
    let mut errors = Vec::new();
    let state = match p.state.trim() {
        "" => None,
        s => match State::parse(s).filter(|st| st.is_final()) {
            Some(st) => Some(st),
            None => {
                errors.push(("state", "choose applied, rejected or cancelled"));
                None
            }
        },
    };
    let since = match p.since.trim() {
        "" => None,
        s => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => d.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t)),
            Err(_) => {
                errors.push(("since", "give a date as YYYY-MM-DD"));
                None
            }
        },
    };
    fn non_empty(s: &str) -> Option<&str> {
        Some(s.trim()).filter(|s| !s.is_empty())
    }
    let q = ListQuery {
        project: non_empty(&p.project),
        state,
        closed: true,
        author: non_empty(&p.author),
        since,
        ..ListQuery::default()
    };
    let errors = errors
        .into_iter()
        .fold(Errors::default(), |mut all, (field, message)| {
            all.0.extend(Errors::one(field, message).0);
            all
        });
    (q, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(state: &str, since: &str) -> ClosedParams {
        ClosedParams {
            state: state.into(),
            since: since.into(),
            ..ClosedParams::default()
        }
    }

    #[test]
    fn closed_filters_read_finished_states_and_days() {
        let p = params("rejected", "2026-11-30");
        let (q, errors) = query(&p);
        assert!(errors.is_empty());
        assert!(q.closed);
        assert_eq!(q.state, Some(State::Rejected));
        assert_eq!(
            q.since.map(crate::clock::stamp).as_deref(),
            Some("2026-11-30T00:00:00.000Z")
        );
        let p = params("in-review", "30/11/2026");
        let (q, errors) = query(&p);
        assert_eq!(q.state, None);
        assert_eq!(q.since, None);
        assert_eq!(
            errors.get("state"),
            Some("choose applied, rejected or cancelled")
        );
        assert_eq!(errors.get("since"), Some("give a date as YYYY-MM-DD"));
    }
}
