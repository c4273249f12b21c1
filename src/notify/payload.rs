//! What a webhook says: the event as stored in the outbox ([`Payload`]) and its rendering as a
//! generic JSON body or a Slack-compatible `{"text": ...}`. Pure: no I/O, no clock.

use crate::audit::describe::Line;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The events a webhook can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Submitted,
    Approved,
    Rejected,
    Applied,
    Failed,
    Killed,
    /// A flag turned stale (once, until it recovers).
    Stale,
    /// The weekly cleanup report of the project was kept.
    ReportStale,
    /// A release plan's guard was breached and the flag went back at once.
    RolledBack,
}

impl Event {
    pub const ALL: [Event; 9] = [
        Event::Submitted,
        Event::Approved,
        Event::Rejected,
        Event::Applied,
        Event::Failed,
        Event::Killed,
        Event::Stale,
        Event::ReportStale,
        Event::RolledBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::Submitted => "change-request.submitted",
            Event::Approved => "change-request.approved",
            Event::Rejected => "change-request.rejected",
            Event::Applied => "change-request.applied",
            Event::Failed => "change-request.failed",
            Event::Killed => "flag.killed",
            Event::Stale => "flag.stale",
            Event::ReportStale => "report.stale",
            Event::RolledBack => "release-plan.rolled-back",
        }
    }

    pub fn parse(s: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.as_str() == s.trim())
    }
}

/// The change request an event is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestInfo {
    pub id: i64,
    pub title: String,
    pub state: String,
    pub environment: String,
    pub author: String,
    pub approvers: Vec<String>,
}

/// One change of a request in words (`audit::describe`): what it is about and its lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Described {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
    pub summary: String,
    pub lines: Vec<Line>,
}

/// One event, as stored in the outbox. `url` is a path on this server (such as
/// `/change-requests/3`) until rendered with the public base URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    pub event: String,
    pub project: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_request: Option<RequestInfo>,
    /// The request's changes in words, for a change request event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Described>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who caused the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub at: String,
    /// The audit log's head once the event's own entry was written: a receiver that keeps
    /// these can later prove with `audit verify --expect-head` that nothing was removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_head: Option<AuditHead>,
    /// `report.stale`: the report as JSON (the README documents its shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<Value>,
    /// `report.stale`: the lines of a chat summary (one per owner), for Slack bodies only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
}

/// How a webhook wants its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Generic,
    Slack,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Generic => "generic",
            Format::Slack => "slack",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        match s.trim() {
            "generic" => Some(Format::Generic),
            "slack" => Some(Format::Slack),
            _ => None,
        }
    }
}

/// The absolute link, when the server knows its public base URL; otherwise none.
fn absolute(path: Option<&str>, base: Option<&str>) -> Option<String> {
    let path = path?;
    if path.starts_with("http://") || path.starts_with("https://") {
        return Some(path.to_string());
    }
    let base = base?.trim_end_matches('/');
    Some(format!("{base}{path}"))
}

/// The body sent to a webhook of `format`.
pub fn render(format: Format, payload: &Payload, base_url: Option<&str>) -> Value {
    let url = absolute(payload.url.as_deref(), base_url);
    match format {
        Format::Generic => {
            let mut p = payload.clone();
            p.url = url;
            p.summary = None;
            serde_json::to_value(p).unwrap_or(Value::Null)
        }
        Format::Slack => json!({ "text": sentence(payload, url.as_deref()) }),
    }
}

/// Slack's `<url|label>` link syntax needs `<`, `>` and `&` escaped in the text.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One readable sentence, ending with a link when there is one; a report's summary lines
/// follow its sentence.
pub fn sentence(p: &Payload, url: Option<&str>) -> String {
    if let (Some(Event::ReportStale), Some(lines)) = (Event::parse(&p.event), &p.summary) {
        let mut text = format!(
            "Weekly cleanup report of {}: {}.",
            escape(&p.project),
            escape(p.reason.as_deref().unwrap_or("ready"))
        );
        for l in lines {
            text.push_str(&format!("\n• {}", escape(l)));
        }
        if let Some(u) = url {
            text.push_str(&format!("\n<{u}|Open the report in Switchyard>"));
        }
        return text;
    }
    let actor = escape(p.actor.as_deref().unwrap_or("someone"));
    let reason = p
        .reason
        .as_deref()
        .map(|r| format!(": {}", escape(r.trim())))
        .unwrap_or_default();
    let mut text = match (&p.change_request, Event::parse(&p.event)) {
        (Some(cr), Some(event)) => {
            let what = format!(
                "change request #{} \u{201c}{}\u{201d} in {}/{}",
                cr.id,
                escape(&cr.title),
                escape(&p.project),
                escape(&cr.environment)
            );
            match event {
                Event::Submitted => {
                    format!("{} submitted {what} for review", escape(&cr.author))
                }
                Event::Approved => format!(
                    "{actor} approved {what}; it is ready to apply (approved by {})",
                    escape(&cr.approvers.join(", "))
                ),
                Event::Rejected => format!("{actor} rejected {what}{reason}"),
                Event::Applied => format!("{actor} applied {what}"),
                Event::Failed => format!("Applying {what} failed{reason}"),
                Event::Killed => format!("{actor} killed a flag for {what}{reason}"),
                Event::Stale | Event::ReportStale => format!("A flag of {what} is stale{reason}"),
                Event::RolledBack => format!("A release of {what} was rolled back{reason}"),
            }
        }
        (None, Some(Event::RolledBack)) => format!(
            "The release plan of {} in {}/{} was rolled back automatically{reason}",
            escape(p.flag.as_deref().unwrap_or("?")),
            escape(&p.project),
            escape(p.environment.as_deref().unwrap_or("?"))
        ),
        (None, Some(Event::Stale)) => format!(
            "The flag {} in {} is stale{reason}",
            escape(p.flag.as_deref().unwrap_or("?")),
            escape(&p.project)
        ),
        _ => format!(
            "{actor} killed the flag {} in {}/{} in an emergency{reason}",
            escape(p.flag.as_deref().unwrap_or("?")),
            escape(&p.project),
            escape(p.environment.as_deref().unwrap_or("?"))
        ),
    };
    if !text.ends_with('.') {
        text.push('.');
    }
    // The changes in words, one bullet each, then the link.
    let mut bullets = false;
    for c in &p.changes {
        let flag = c
            .flag
            .as_deref()
            .map(|f| format!("{}: ", escape(f)))
            .unwrap_or_default();
        for l in &c.lines {
            text.push_str(&format!("\n• {flag}{}", escape(&l.sentence)));
            bullets = true;
        }
    }
    if let Some(u) = url {
        let sep = if bullets { "\n" } else { " " };
        text.push_str(&format!("{sep}<{u}|Open in Switchyard>"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied() -> Payload {
        Payload {
            event: Event::Applied.as_str().into(),
            project: "web".into(),
            change_request: Some(RequestInfo {
                id: 3,
                title: "Roll <out>".into(),
                state: "applied".into(),
                environment: "production".into(),
                author: "ed@example.com".into(),
                approvers: vec!["ann@example.com".into()],
            }),
            changes: vec![Described {
                flag: Some("checkout".into()),
                summary: "replace the strategies of checkout".into(),
                lines: vec![Line::changed("Rollout", "10 %".into(), "25 %".into())],
            }],
            flag: None,
            environment: Some("production".into()),
            reason: None,
            actor: Some("ann@example.com".into()),
            url: Some("/change-requests/3".into()),
            at: "2030-01-01T00:00:00.000Z".into(),
            audit_head: Some(AuditHead {
                seq: 7,
                hash: "ab".repeat(32),
            }),
            report: None,
            summary: None,
        }
    }

    #[test]
    fn generic_bodies_carry_the_request_and_an_absolute_link_only_with_a_base() {
        let p = applied();
        let with = render(Format::Generic, &p, Some("https://flags.example.com/"));
        assert_eq!(with["event"], "change-request.applied");
        assert_eq!(with["changeRequest"]["approvers"][0], "ann@example.com");
        assert_eq!(with["url"], "https://flags.example.com/change-requests/3");
        assert_eq!(
            with["auditHead"],
            json!({"seq": 7, "hash": "ab".repeat(32)})
        );
        let without = render(Format::Generic, &p, None);
        assert!(without.get("url").is_none());
        assert_eq!(
            with["changes"][0]["lines"][0]["sentence"],
            "Rollout 10 % → 25 %"
        );
        assert_eq!(with["changes"][0]["lines"][0]["before"], "10 %");
        assert!(without.get("flag").is_none());
    }

    #[test]
    fn slack_bodies_are_one_escaped_sentence_with_a_link() {
        let text = render(Format::Slack, &applied(), Some("http://x"))["text"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(text.starts_with("ann@example.com applied change request #3"));
        assert!(text.contains("Roll &lt;out&gt;"));
        assert!(
            text.ends_with(
                "in web/production.\n• checkout: Rollout 10 % → 25 %\n<http://x/change-requests/3|Open in Switchyard>"
            ),
            "{text}"
        );
        let kill = Payload {
            event: Event::Killed.as_str().into(),
            change_request: None,
            changes: Vec::new(),
            flag: Some("checkout".into()),
            reason: Some("errors".into()),
            url: None,
            ..applied()
        };
        assert_eq!(
            sentence(&kill, None),
            "ann@example.com killed the flag checkout in web/production in an emergency: errors."
        );
    }

    #[test]
    fn a_report_carries_its_json_to_generic_bodies_and_a_summary_per_owner_to_slack() {
        let p = Payload {
            event: Event::ReportStale.as_str().into(),
            change_request: None,
            environment: None,
            actor: None,
            reason: Some("2 stale of 10 flags, health 80 %".into()),
            url: Some("/reports/4".into()),
            report: Some(json!({"week": "2031-W06"})),
            summary: Some(vec![
                "ann@example.com: 1 stale (a)".into(),
                "no owner: 1 stale (b<c)".into(),
            ]),
            ..applied()
        };
        let generic = render(Format::Generic, &p, Some("http://x"));
        assert_eq!(generic["report"]["week"], "2031-W06");
        assert!(generic.get("summary").is_none());
        let text = render(Format::Slack, &p, Some("http://x"))["text"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            text,
            "Weekly cleanup report of web: 2 stale of 10 flags, health 80 %.\n\
             • ann@example.com: 1 stale (a)\n• no owner: 1 stale (b&lt;c)\n\
             <http://x/reports/4|Open the report in Switchyard>"
        );
    }

    #[test]
    fn events_round_trip() {
        for e in Event::ALL {
            assert_eq!(Event::parse(e.as_str()), Some(e));
        }
        assert_eq!(Event::parse("nope"), None);
    }
}
