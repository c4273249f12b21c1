//! The report's three forms: JSON (its serde shape), Markdown for people, CSV for spreadsheets
//! (one row per flag listed). Several projects' reports render one after the other (Markdown)
//! or under one header (CSV).

use super::{Changes, FlagEntry, OwnerGroup, StaleReport};
use crate::lifecycle::stale::Code;
use serde_json::Value;
use std::fmt::Write;

/// The forms a report downloads as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Csv,
    Json,
}

impl Format {
    /// `markdown`/`md`, `csv`, `json`.
    pub fn parse(s: &str) -> Option<Format> {
        match s.trim() {
            "markdown" | "md" => Some(Format::Markdown),
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// The reports in `format`. JSON is `{"report": ...}` for one project and `{"reports": [...]}`
/// for several, as the API answers.
pub fn render(reports: &[StaleReport], format: Format, one: bool) -> String {
    match format {
        Format::Markdown => reports
            .iter()
            .map(markdown)
            .collect::<Vec<_>>()
            .join("\n---\n\n"),
        Format::Csv => csv(reports),
        Format::Json => {
            let v = match (one, reports.first()) {
                (true, Some(r)) => serde_json::json!({ "report": r }),
                _ => serde_json::json!({ "reports": reports }),
            };
            let mut text = serde_json::to_string_pretty(&v).unwrap_or_default();
            text.push('\n');
            text
        }
    }
}

/// `2031-02-03T09:00:00.000Z` → `2031-02-03 09:00 UTC`.
pub fn when(stamp: &str) -> String {
    match (stamp.get(..10), stamp.get(11..16)) {
        (Some(d), Some(t)) => format!("{d} {t} UTC"),
        _ => stamp.to_string(),
    }
}

/// Text that Markdown would otherwise read as markup.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\`*_[]<>#|".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A code span that holds any key, backticks included.
fn code(s: &str) -> String {
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

fn keys(list: &[String]) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        list.iter().map(|k| code(k)).collect::<Vec<_>>().join(", ")
    }
}

fn label(code_str: &str) -> &'static str {
    Code::parse(code_str).map_or("other", Code::label)
}

fn markdown(r: &StaleReport) -> String {
    let t = &r.totals;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Cleanup report: {} ({}), week {}\n",
        escape(&r.project.name),
        code(&r.project.key),
        r.week
    );
    let health = t
        .health_percent
        .map_or("no flags".to_string(), |h| format!("{h} %"));
    let _ = writeln!(
        out,
        "Generated {}. {} flags, **{} stale**, {} snoozed, {} completed awaiting removal, {} \
         archived. Health (flags not stale): {health}.\n",
        when(&r.generated_at),
        t.flags,
        t.stale,
        t.snoozed,
        t.completed,
        t.archived
    );
    if !t.by_reason.is_empty() {
        let by: Vec<String> = t
            .by_reason
            .iter()
            .map(|(c, n)| format!("{} {n}", label(c)))
            .collect();
        let _ = writeln!(out, "Stale by reason: {}.\n", by.join(", "));
    }
    changes(&mut out, &r.changes);
    if r.owners.is_empty() {
        out.push_str("Nothing to clean up: no flag is stale, snoozed or waiting for removal.\n");
    }
    for g in &r.owners {
        group(&mut out, g);
    }
    out
}

fn changes(out: &mut String, c: &Changes) {
    let since = match c.since_report {
        Some(id) => format!("Since the last report (#{id}, {})", when(&c.since)),
        None => format!("Since {}", when(&c.since)),
    };
    let _ = writeln!(out, "## {since}\n");
    for (what, list) in [
        ("Newly stale", &c.newly_stale),
        ("Recovered", &c.recovered),
        ("Completed", &c.completed),
        ("Archived", &c.archived),
        ("Created", &c.created),
    ] {
        let _ = writeln!(out, "- {what}: {}", keys(list));
    }
    out.push('\n');
}

fn group(out: &mut String, g: &OwnerGroup) {
    let n = g.flags.len();
    let _ = writeln!(
        out,
        "## {}: {n} flag{}\n",
        escape(&g.owner.label()),
        if n == 1 { "" } else { "s" }
    );
    for f in &g.flags {
        flag(out, f);
    }
}

fn flag(out: &mut String, f: &FlagEntry) {
    let new = if f.new_this_week {
        ", new this week"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "### {} ({}): {}{new}\n",
        code(&f.key),
        escape(&f.name),
        f.state.as_str()
    );
    let _ = writeln!(
        out,
        "- Stage: {} since {} · {} days old · {}",
        f.stage,
        when(&f.stage_since),
        f.age_days,
        f.flag_type
    );
    for r in &f.reasons {
        let _ = writeln!(
            out,
            "- Why: {}: {} (evidence: `{}`)",
            label(&r.code),
            escape(&r.message),
            compact(&r.evidence)
        );
    }
    for e in &f.everyone {
        let _ = writeln!(out, "- In {}: {}", e.environment, e.text);
    }
    let _ = writeln!(out, "- **Do**: {}", f.action.text);
    if let Some(s) = &f.snooze {
        let _ = writeln!(
            out,
            "- Snoozed until {} by {}: “{}”",
            when(&s.until),
            escape(&s.by),
            escape(&s.reason)
        );
    }
    if let Some(c) = &f.completion {
        let _ = writeln!(
            out,
            "- Completed by {} on {}: {}",
            escape(&c.by),
            when(&c.at),
            c.outcome
        );
    }
    let _ = writeln!(out, "- Evidence: {}\n", f.url);
}

/// Evidence on one line; backticks would end the code span.
fn compact(v: &Value) -> String {
    v.to_string().replace('`', "'")
}

const CSV_HEADER: &str = "project,week,owner,flag,name,type,state,new_this_week,stage,\
stage_since,age_days,reasons,why,everyone,action,snoozed_until,snooze_reason,url";

fn csv(reports: &[StaleReport]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push_str("\r\n");
    for r in reports {
        for g in &r.owners {
            let owner = g.owner.label();
            for f in &g.flags {
                let reasons: Vec<&str> = f.reasons.iter().map(|r| r.code.as_str()).collect();
                let why: Vec<&str> = f.reasons.iter().map(|r| r.message.as_str()).collect();
                let everyone: Vec<String> = f
                    .everyone
                    .iter()
                    .map(|e| format!("{}: {}", e.environment, e.text))
                    .collect();
                let cells = [
                    r.project.key.as_str(),
                    &r.week,
                    &owner,
                    &f.key,
                    &f.name,
                    &f.flag_type,
                    f.state.as_str(),
                    if f.new_this_week { "yes" } else { "no" },
                    &f.stage,
                    &f.stage_since,
                    &f.age_days.to_string(),
                    &reasons.join("; "),
                    &why.join("; "),
                    &everyone.join("; "),
                    &f.action.text,
                    f.snooze.as_ref().map_or("", |s| s.until.as_str()),
                    f.snooze.as_ref().map_or("", |s| s.reason.as_str()),
                    &f.url,
                ];
                let row: Vec<String> = cells.iter().map(|c| cell(c)).collect();
                out.push_str(&row.join(","));
                out.push_str("\r\n");
            }
        }
    }
    out
}

/// Quoted, quotes doubled; a leading `= + - @` (or tab, CR) gets a `'`, so a spreadsheet shows
/// the text instead of running it as a formula.
fn cell(s: &str) -> String {
    let guarded = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

#[cfg(test)]
mod tests;
