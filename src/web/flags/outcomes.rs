//! What a bulk action did, flag by flag, as the pages show it; and a bulk switch's report,
//! carried once through the session back to the catalog it came from (like a flash), where it
//! stands above the cells that show the new states. A flag the project's gradual-start rule
//! refused links to starting a release plan there, or to its targeting: nothing changed for it.

use crate::changes::bulk::{BulkAction, BulkReport, Done};
use crate::web::href;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

const KEY: &str = "bulk_switched";

/// One flag's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Line {
    pub project: String,
    pub key: String,
    pub word: String,
    pub tone: String,
    pub refused: bool,
    /// Why, or what was done, as a sentence.
    pub message: String,
    pub change_request: Option<i64>,
    /// The environment whose gradual-start rule refused switching it on: what to do instead
    /// links there.
    pub gradual: Option<String>,
}

impl Line {
    pub fn flag_href(&self) -> String {
        href::flag(&self.project, &self.key)
    }

    pub fn plan_href(&self, env: &str) -> String {
        href::release_plan(&self.project, &self.key, env)
    }

    pub fn targeting_href(&self, env: &str) -> String {
        format!("{}/targeting?env={}", self.flag_href(), href::segment(env))
    }
}

/// The lines of one project's report.
pub fn lines(project: &str, action: &BulkAction, report: BulkReport) -> Vec<Line> {
    let env = match action {
        BulkAction::Switch { env, on: true } => Some(env.clone()),
        _ => None,
    };
    report
        .results
        .into_iter()
        .map(|r| {
            let gradual = r.error == Some("gradual-start-required");
            Line {
                project: project.to_string(),
                word: word(r.outcome).into(),
                tone: tone(r.outcome).into(),
                refused: r.outcome == Done::Refused,
                // The rule's words start with the project's key, which keeps its case.
                message: if gradual {
                    format!("{}.", r.message.trim_end_matches('.'))
                } else {
                    crate::web::sentence(&r.message)
                },
                change_request: r.change_request,
                gradual: env.clone().filter(|_| gradual),
                key: r.key,
            }
        })
        .collect()
}

/// A bulk switch's report, for the catalog at `place` (its path, without the query).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Switched {
    pub place: String,
    pub title: String,
    pub summary: String,
    pub lines: Vec<Line>,
}

impl Switched {
    pub fn refused(&self) -> usize {
        self.lines.iter().filter(|l| l.refused).count()
    }
}

pub(super) async fn keep(session: &Session, report: Switched) {
    let _ = session.insert(KEY, report).await;
}

/// The report to show on the catalog at `place`, once. A session without one is left unwritten.
pub(super) async fn take(session: &Session, place: &str) -> Option<Switched> {
    let report = session.get::<Switched>(KEY).await.ok().flatten()?;
    let _ = session.remove::<Switched>(KEY).await;
    Some(report).filter(|r| r.place == place)
}

/// The badge of an outcome.
fn tone(d: Done) -> &'static str {
    match d {
        Done::Applied => "badge-ok",
        Done::Staged => "badge-info",
        Done::Unchanged => "badge-muted",
        Done::Refused => "badge-danger",
    }
}

/// An outcome in words.
fn word(d: Done) -> &'static str {
    match d {
        Done::Applied => "done",
        Done::Staged => "in a change request",
        Done::Unchanged => "already so",
        Done::Refused => "refused",
    }
}
