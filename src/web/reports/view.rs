//! A report as the pages show it: the domain's `StaleReport` turned into rows and sentences,
//! and what everyone gets (also used by the flag page's Lifecycle tab).

use crate::lifecycle::report::render::when;
use crate::lifecycle::report::{FlagEntry, OwnerGroup, StaleReport, State};
use crate::lifecycle::served::{EnvGets, Gets};
use crate::lifecycle::stale::Code;
use crate::web::evidence::evidence_lines;

/// Text with `code` spans: (is code, text) pieces.
pub type Spans = Vec<(bool, String)>;

/// Splits "everyone gets `true`" into plain and code pieces.
pub fn spans(text: &str) -> Spans {
    text.split('`')
        .enumerate()
        .filter(|(_, t)| !t.is_empty())
        .map(|(i, t)| (i % 2 == 1, t.to_string()))
        .collect()
}

/// One environment's "what everyone gets".
pub struct EveryoneRow {
    pub environment: String,
    pub protected: bool,
    /// `on`, `off`, `variant` or `varies`: the badge's class.
    pub kind: &'static str,
    pub text: Spans,
}

impl From<&EnvGets> for EveryoneRow {
    fn from(e: &EnvGets) -> Self {
        EveryoneRow {
            environment: e.environment.clone(),
            protected: e.protected,
            kind: match e.gets {
                Gets::Off => "off",
                Gets::On => "on",
                Gets::Variant { .. } => "variant",
                Gets::Varies { .. } => "varies",
            },
            text: spans(&e.text),
        }
    }
}

pub struct ReasonRow {
    pub label: &'static str,
    pub message: String,
    pub evidence: Vec<(String, String)>,
}

pub struct FlagRow {
    pub key: String,
    pub name: String,
    pub href: String,
    pub state: &'static str,
    pub new_this_week: bool,
    pub stage: String,
    pub stage_since: String,
    pub age_days: i64,
    pub flag_type: String,
    pub reasons: Vec<ReasonRow>,
    pub everyone: Vec<EveryoneRow>,
    pub action: Spans,
    /// "until … by …: reason".
    pub snooze: String,
    /// "kept by … on …".
    pub completion: String,
}

impl From<&FlagEntry> for FlagRow {
    fn from(f: &FlagEntry) -> Self {
        FlagRow {
            key: f.key.clone(),
            name: f.name.clone(),
            href: f.url.clone(),
            state: f.state.as_str(),
            new_this_week: f.new_this_week,
            stage: f.stage.clone(),
            stage_since: when(&f.stage_since),
            age_days: f.age_days,
            flag_type: f.flag_type.clone(),
            reasons: f
                .reasons
                .iter()
                .map(|r| ReasonRow {
                    label: Code::parse(&r.code).map_or("other", Code::label),
                    message: crate::web::sentence(&r.message),
                    evidence: evidence_lines("", &r.evidence),
                })
                .collect(),
            everyone: f.everyone.iter().map(EveryoneRow::from).collect(),
            action: spans(&crate::web::sentence(&f.action.text)),
            snooze: f
                .snooze
                .as_ref()
                .map(|s| format!("until {} by {}: “{}”", when(&s.until), s.by, s.reason))
                .unwrap_or_default(),
            completion: f
                .completion
                .as_ref()
                .map(|c| format!("{} by {} on {}", c.outcome, c.by, when(&c.at)))
                .unwrap_or_default(),
        }
    }
}

pub struct GroupRow {
    pub owner: String,
    pub stale: usize,
    pub flags: Vec<FlagRow>,
}

impl From<&OwnerGroup> for GroupRow {
    fn from(g: &OwnerGroup) -> Self {
        GroupRow {
            owner: g.owner.label(),
            stale: g.flags.iter().filter(|f| f.state == State::Stale).count(),
            flags: g.flags.iter().map(FlagRow::from).collect(),
        }
    }
}

/// A flag key in "what changed", with its link.
pub struct KeyLink {
    pub key: String,
    pub href: String,
}

pub struct ReportView {
    pub project_key: String,
    pub project_name: String,
    pub week: String,
    pub generated: String,
    pub flags: usize,
    pub stale: usize,
    pub snoozed: usize,
    pub completed: usize,
    pub health: String,
    /// (label, count), most frequent first.
    pub by_reason: Vec<(&'static str, usize)>,
    pub since: String,
    pub changes: Vec<(&'static str, Vec<KeyLink>)>,
    pub groups: Vec<GroupRow>,
    /// (label, href) of the downloads.
    pub downloads: Vec<(&'static str, String)>,
}

impl ReportView {
    /// `base` is the path the downloads add `.md`, `.csv`, `.json` to (with `query` after).
    pub fn of(r: &StaleReport, base: &str, query: &str) -> ReportView {
        let t = &r.totals;
        let mut by_reason: Vec<(&'static str, usize)> = t
            .by_reason
            .iter()
            .map(|(c, n)| (Code::parse(c).map_or("other", Code::label), *n))
            .collect();
        by_reason.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let link = |k: &String| KeyLink {
            key: k.clone(),
            href: format!(
                "{}?tab=lifecycle",
                crate::web::href::flag(&r.project.key, k)
            ),
        };
        let c = &r.changes;
        let since = match c.since_report {
            Some(id) => format!("since report #{id} ({})", when(&c.since)),
            None => format!("since {}", when(&c.since)),
        };
        ReportView {
            project_key: r.project.key.clone(),
            project_name: r.project.name.clone(),
            week: r.week.clone(),
            generated: when(&r.generated_at),
            flags: t.flags,
            stale: t.stale,
            snoozed: t.snoozed,
            completed: t.completed,
            health: t.health_percent.map_or("—".into(), |h| format!("{h} %")),
            by_reason,
            since,
            changes: [
                ("Newly stale", &c.newly_stale),
                ("Recovered", &c.recovered),
                ("Completed", &c.completed),
                ("Archived", &c.archived),
                ("Created", &c.created),
            ]
            .into_iter()
            .map(|(label, keys)| (label, keys.iter().map(link).collect()))
            .collect(),
            groups: r.owners.iter().map(GroupRow::from).collect(),
            downloads: ["md", "csv", "json"]
                .into_iter()
                .zip(["Markdown", "CSV", "JSON"])
                .map(|(ext, label)| (label, format!("{base}.{ext}{query}")))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backticks_become_code_spans() {
        assert_eq!(
            spans("everyone gets `true` in production"),
            vec![
                (false, "everyone gets ".to_string()),
                (true, "true".to_string()),
                (false, " in production".to_string())
            ]
        );
        assert_eq!(spans("plain"), vec![(false, "plain".to_string())]);
    }
}
