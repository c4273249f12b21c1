//! What a bulk action did: each flag's outcome, with why where it was refused, and the summary
//! the pages and the API say it in.

use crate::error::AppError;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Done {
    /// Changed, audited.
    Applied,
    /// Waiting in a change request (archived or switched where a protected environment reviews).
    Staged,
    /// Already so: nothing to change.
    Unchanged,
    /// Not done; `message` says why.
    Refused,
}

/// What happened to one flag.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlagResult {
    pub key: String,
    pub outcome: Done,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_request: Option<i64>,
    /// The refusal's error code ("flag-has-dependents"), for automation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
    pub message: String,
}

impl FlagResult {
    /// Not done, for the reason `e` gives (a project that refuses the whole batch says it for
    /// each of its flags).
    pub fn refused(key: &str, e: &AppError) -> FlagResult {
        FlagResult {
            error: Some(e.code()),
            ..FlagResult::new(key, Done::Refused, e.to_string())
        }
    }

    pub(super) fn new(key: &str, outcome: Done, message: impl Into<String>) -> FlagResult {
        FlagResult {
            key: key.to_string(),
            outcome,
            change_request: None,
            error: None,
            message: message.into(),
        }
    }
}

/// Every flag's result, in the order they were given.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkReport {
    pub results: Vec<FlagResult>,
}

impl BulkReport {
    pub fn count(&self, outcome: Done) -> usize {
        self.results.iter().filter(|r| r.outcome == outcome).count()
    }

    /// "3 changed, 1 waiting in a change request, 2 refused".
    pub fn summary(&self) -> String {
        let parts = [
            (Done::Applied, "changed"),
            (Done::Staged, "waiting in a change request"),
            (Done::Unchanged, "already so"),
            (Done::Refused, "refused"),
        ];
        parts
            .iter()
            .filter_map(|(d, words)| {
                let n = self.count(*d);
                (n > 0).then(|| format!("{n} {words}"))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}
