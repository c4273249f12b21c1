//! One way to describe a change, everywhere a person reads one (flag history, audit page, home
//! feed, change requests, webhook bodies): an audit entry's before/after, or a change request
//! item's, becomes [`Line`]s in the words of the UI ("Rollout 10 % → 25 %", "Country in DE, FR
//! → DE, FR, NL", "Segment internal added"), never JSON (spec ui.md, "Feel").
//!
//! Pure: JSON in, lines out; what the JSON does not say (a segment's name) comes in [`Names`].
//! One module per thing described; [`entry`] and [`item`] pick the right one.

mod config;
mod constraints;
mod dependencies;
mod lifecycle;
mod metadata;
mod other;
pub mod plans;
mod protection;
mod requests;
mod segments;
mod strategies;
mod switches;
mod variants;
pub mod words;

pub use config::{configuration, Configuration};
pub use constraints::phrase as constraint_phrase;
pub use strategies::{label as strategy_label, phrase as strategy_phrase};

use super::Action;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

/// What a line says happened to its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Removed,
    Changed,
    /// Something said about the change as a whole ("Archived: no longer served to SDKs").
    Note,
}

impl Change {
    /// The `.diff` vocabulary of app.css.
    pub fn class(self) -> &'static str {
        match self {
            Change::Added => "add",
            Change::Removed => "del",
            Change::Changed | Change::Note => "ctx",
        }
    }
}

/// One described change: what it is about, before and after in words, and the sentence that says
/// it (what Slack gets, and what pages show).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub change: Change,
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    pub sentence: String,
}

impl Line {
    /// "Rollout 10 % → 25 %".
    pub fn changed(subject: impl Into<String>, before: String, after: String) -> Line {
        let subject = subject.into();
        Line {
            change: Change::Changed,
            sentence: format!("{} {before} → {after}", words::cap(&subject)),
            subject,
            before: Some(before),
            after: Some(after),
        }
    }

    pub fn added(subject: impl Into<String>, after: String, sentence: String) -> Line {
        Line {
            change: Change::Added,
            subject: subject.into(),
            before: None,
            after: Some(after),
            sentence,
        }
    }

    pub fn removed(subject: impl Into<String>, before: String, sentence: String) -> Line {
        Line {
            change: Change::Removed,
            subject: subject.into(),
            before: Some(before),
            after: None,
            sentence,
        }
    }

    pub fn note(subject: impl Into<String>, sentence: impl Into<String>) -> Line {
        Line {
            change: Change::Note,
            subject: subject.into(),
            before: None,
            after: None,
            sentence: sentence.into(),
        }
    }

    /// The line as said of a part of something larger: "Strategy 2: rollout 10 % → 25 %".
    fn within(self, prefix: &str) -> Line {
        Line {
            subject: format!("{prefix}: {}", words::uncap(&self.subject)),
            sentence: format!("{prefix}: {}", words::uncap(&self.sentence)),
            ..self
        }
    }

    /// The class of the line in the `.diff` vocabulary.
    pub fn class(&self) -> &'static str {
        self.change.class()
    }
}

/// What the stored JSON refers to by id: strategies name segments by id.
#[derive(Debug, Clone, Default)]
pub struct Names {
    segments: HashMap<i64, String>,
}

impl Names {
    pub fn with_segments(segments: impl IntoIterator<Item = (i64, String)>) -> Names {
        Names {
            segments: segments.into_iter().collect(),
        }
    }

    /// A segment by its id: its name, or "#id" for one deleted since.
    pub fn segment(&self, id: &Value) -> String {
        match id.as_i64().and_then(|i| self.segments.get(&i)) {
            Some(name) => name.clone(),
            None => format!("#{}", words::value(id)),
        }
    }
}

/// An audit entry's change in words. Empty when the entry records nothing worth a line.
pub fn entry(
    action: Action,
    before: Option<&Value>,
    after: Option<&Value>,
    names: &Names,
) -> Vec<Line> {
    use Action::*;
    match action {
        FlagEnabled | FlagDisabled => switches::enabled(before, after),
        FlagKilled => switches::killed(before),
        FlagKillAcknowledged => switches::kill_acknowledged(after),
        FlagArchived | FlagRevived => switches::archived(before, after),
        FlagStrategiesReplaced => strategies::diff(
            words::items(before, "strategies"),
            words::items(after, "strategies"),
            names,
        ),
        FlagVariantsReplaced => variants::diff(
            words::items(before, "variants"),
            words::items(after, "variants"),
        ),
        FlagDependenciesReplaced => dependencies::diff(before, after),
        FlagCreated => metadata::created(after),
        FlagUpdated => metadata::diff(before, after),
        FlagImported => config::imported(before, after, names),
        SegmentCreated => segments::created(after),
        SegmentUpdated => segments::diff(before, after),
        SegmentDeleted => segments::deleted(before),
        EnvironmentProtectionSet => protection::diff(before, after),
        ReleaseTemplateCreated | ReleaseTemplateUpdated | ReleaseTemplateDeleted => {
            plans::template(before, after, names)
        }
        ReleasePlanStarted
        | ReleasePlanAdvanced
        | ReleasePlanCompleted
        | ReleasePlanPaused
        | ReleasePlanResumed
        | ReleasePlanCancelled
        | ReleasePlanRolledBack
        | ReleasePlanRollbackReviewed => plans::event(action.as_str(), before, after),
        FlagCompleted | FlagReopened | FlagSnoozed | FlagUnsnoozed | FlagLifecycleSet
        | FlagBecameStale | FlagRecovered => lifecycle::mark(action, before, after),
        ChangeRequestApplied
        | ChangeRequestApproved
        | ChangeRequestCancelled
        | ChangeRequestChangeAdded
        | ChangeRequestCommented
        | ChangeRequestEdited
        | ChangeRequestFailed
        | ChangeRequestRefreshed
        | ChangeRequestRejected
        | ChangeRequestReviewDenied
        | ChangeRequestScheduled
        | ChangeRequestSubmitted => requests::bookkeeping(action, before, after),
        _ => other::fields(before, after),
    }
}

/// An entry whose action this version does not know (written by a newer one): its fields.
pub fn unknown(before: Option<&Value>, after: Option<&Value>) -> Vec<Line> {
    other::fields(before, after)
}

/// A change request item (of `kind`, as `changes::Proposal::kind` names it) in words, from the
/// live configuration when it was proposed to what it proposes.
pub fn item(kind: &str, before: &Value, after: &Value, names: &Names) -> Vec<Line> {
    let (b, a) = (Some(before), Some(after));
    match kind {
        "toggle" => switches::enabled(b, a),
        "strategies" => strategies::diff(
            words::items(b, "strategies"),
            words::items(a, "strategies"),
            names,
        ),
        "variants" => variants::diff(words::items(b, "variants"), words::items(a, "variants")),
        "archive" => switches::archived(
            Some(&serde_json::json!({"archived": false})),
            Some(&serde_json::json!({"archived": true})),
        ),
        "dependencies" => dependencies::diff(b, a),
        "segment" => segments::diff(b, a),
        "protection" => protection::diff(b, a),
        "release-plan" => plans::plan(after, names),
        _ => other::fields(b, a),
    }
}
