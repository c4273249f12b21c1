//! Code references: where the project's flag keys appear in source code, as the latest scan of
//! each repository found them (issue 12, item 3).
//!
//! Owns the matching of keys in file bytes ([`scan`], pure), the walk over source trees
//! ([`walk`], [`git`]), the shape and checks of a scan as it is uploaded ([`upload`]), recording
//! a scan in place of the repository's previous one ([`record`], audited as
//! `code-references.scanned`), what is read back for the API, the flag page's Code tab and the
//! stale rules ([`queries`], [`queries::unreferenced`]), and the project's repository URL
//! template ([`link`]). `switchyard scan` (`cli/scan.rs`) and the admin API
//! (`api/code_references.rs`) are its transports.

pub mod git;
pub mod link;
pub mod queries;
pub mod record;
pub mod scan;
pub mod store;
pub mod upload;
pub mod walk;

pub use queries::{
    flag_references, repositories, repository_scan, unreferenced, FlagReferences, Located,
    NoReferences, RepositoryReferences, ScanEvidence, ScanSummary, Unreferenced,
};
pub use record::{record_scan, set_url_template};
pub use upload::{check_repository, Reference};

use chrono::{DateTime, Utc};

/// One repository's scan: what it found, and which checkout it looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub scanned_at: DateTime<Utc>,
    pub references: Vec<Reference>,
}

impl Scan {
    /// The body of `PUT .../code-references/{repository}` for this scan.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "commit": self.commit,
            "branch": self.branch,
            "scannedAt": crate::clock::stamp(self.scanned_at),
            "references": self.references,
        })
    }
}
